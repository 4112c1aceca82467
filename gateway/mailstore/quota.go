package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sealgate/sealgate/crypto/address"
)

// ErrOverQuota: storing the message would take the account past its storage limit. Nothing
// was stored. Deliver, Append and CopyMessages return it (Deliver as a *QuotaError naming the
// accounts).
var ErrOverQuota = errors.New("mailstore: over the account's storage quota")

// QuotaError is a Deliver refused because some of its local targets would exceed their
// storage limit; errors.Is(err, ErrOverQuota) holds. Nothing was stored: a caller that wants
// the other recipients to have the message delivers again without the accounts named here.
type QuotaError struct {
	UserIDs []int64 // ascending
}

func (e *QuotaError) Error() string {
	ids := make([]string, len(e.UserIDs))
	for i, id := range e.UserIDs {
		ids[i] = fmt.Sprint(id)
	}
	return ErrOverQuota.Error() + ": accounts " + strings.Join(ids, ", ")
}

// Is makes errors.Is(err, ErrOverQuota) true.
func (e *QuotaError) Is(target error) bool { return target == ErrOverQuota }

// Limits an account may be given with SetQuota besides a size in bytes.
const (
	// QuotaDefault makes the account follow Options.DefaultQuota again.
	QuotaDefault int64 = -1
	// QuotaUnlimited lifts the limit for the account whatever the default.
	QuotaUnlimited int64 = 0
)

// Quota is an account's storage: what its messages take and what it may take.
type Quota struct {
	// Used is the sum of the sizes (RFC822.SIZE) of every message in every mailbox of the
	// account; a message copied to two mailboxes counts twice, as IMAP QUOTA (RFC 9208)
	// counts STORAGE.
	Used int64
	// Limit is the limit in force in bytes; 0 is unlimited.
	Limit int64
	// Own is true when the account has a limit of its own (SetQuota), false when Limit is
	// the store's default.
	Own bool
}

// Over reports whether the account is at or past its limit: a new message cannot fit.
func (q Quota) Over() bool { return q.Limit > 0 && q.Used >= q.Limit }

// Fits reports whether a message of size bytes may be added.
func (q Quota) Fits(size int64) bool { return q.Limit <= 0 || q.Used+size <= q.Limit }

// effectiveLimit is an account's limit from its own (NULL: none) and the default.
func effectiveLimit(own sql.NullInt64, def int64) Quota {
	if own.Valid {
		return Quota{Limit: own.Int64, Own: true}
	}
	return Quota{Limit: max(def, 0)}
}

// schemaQuota: per account, the bytes its messages take, kept by triggers in the transaction
// that adds or removes messages, and its own limit (NULL: the store's default; 0: unlimited).
// A deleted mailbox's messages are subtracted before the mailbox row goes: the messages'
// own delete trigger no longer finds whose they were.
const schemaQuota = `
CREATE TABLE IF NOT EXISTS quotas (
	user_id   INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	used      INTEGER NOT NULL DEFAULT 0,
	max_bytes INTEGER
) STRICT;

CREATE TRIGGER IF NOT EXISTS quota_messages_ins AFTER INSERT ON messages BEGIN
	UPDATE quotas SET used = used + NEW.size
		WHERE user_id = (SELECT user_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;
CREATE TRIGGER IF NOT EXISTS quota_messages_del AFTER DELETE ON messages BEGIN
	UPDATE quotas SET used = used - OLD.size
		WHERE user_id = (SELECT user_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;
CREATE TRIGGER IF NOT EXISTS quota_mailboxes_del BEFORE DELETE ON mailboxes BEGIN
	UPDATE quotas SET used = used - (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = OLD.id)
		WHERE user_id = OLD.user_id;
END;
`

// upgradeQuota (schema 3 → 4) counts what existing accounts' messages take.
const upgradeQuota = `INSERT INTO quotas(user_id, used)
	SELECT u.id, (SELECT coalesce(sum(m.size), 0) FROM mailboxes mb JOIN messages m ON m.mailbox_id = mb.id WHERE mb.user_id = u.id)
	FROM users u WHERE true
	ON CONFLICT(user_id) DO UPDATE SET used = excluded.used;`

const sqlQuotaOf = `SELECT used, max_bytes FROM quotas WHERE user_id = ?`

// Quota returns an account's usage and limit. An account that does not exist has nothing
// used and the default limit.
func (s *Store) Quota(ctx context.Context, userID int64) (Quota, error) {
	var used int64
	var own sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, sqlQuotaOf, userID).Scan(&used, &own)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Quota{}, err
	}
	q := effectiveLimit(own, s.opts.DefaultQuota)
	q.Used = used
	return q, nil
}

// SetQuota gives an account its own storage limit in bytes: QuotaUnlimited (0) for none,
// QuotaDefault (-1) to follow the default again. Messages already stored stay when the limit
// goes below what they take; new ones are refused until enough are removed.
func (s *Store) SetQuota(ctx context.Context, addr address.Address, limit int64) error {
	var arg any
	if limit >= 0 {
		arg = limit
	}
	return s.writeDirectory(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE quotas SET max_bytes = ? WHERE user_id = (SELECT id FROM users WHERE address_key = ?)`,
			arg, addr.Key())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// overQuotaTx returns a *QuotaError naming those of users whose usage, counted with what tx
// added for them, exceeds their limit; nil when all fit. The store's single writer makes the
// check and the additions one step: concurrent deliveries cannot overshoot together.
func (s *Store) overQuotaTx(tx *sql.Tx, users []int64) error {
	users = slices.Compact(slices.Sorted(slices.Values(users)))
	var over []int64
	for _, u := range users {
		var used int64
		var own sql.NullInt64
		err := s.wstmts.queryRow(tx, sqlQuotaOf, u).Scan(&used, &own)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if q := effectiveLimit(own, s.opts.DefaultQuota); q.Limit > 0 && used > q.Limit {
			over = append(over, u)
		}
	}
	if len(over) == 0 {
		return nil
	}
	return &QuotaError{UserIDs: over}
}

// overQuota is ErrOverQuota itself for an err naming one account (Append, CopyMessages).
func overQuota(err error) error {
	if errors.Is(err, ErrOverQuota) {
		return ErrOverQuota
	}
	return err
}
