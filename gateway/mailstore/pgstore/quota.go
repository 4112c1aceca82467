package pgstore

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// schemaV4: per-account storage quotas (mailstore's "Storage quotas"). Statement triggers
// keep quotas.used in the transaction that adds or removes messages; a deleted mailbox's
// messages are subtracted before its row goes, since the messages' delete trigger no longer
// finds whose they were. An account being deleted is left alone (its row goes with it, and an
// update would fail the foreign key). sealgate_check_quota raises SQLSTATE SGQTA, naming the accounts past
// their limit, so that a batch sent as one implicit transaction is rolled back by the server.
// The counters of existing accounts are filled once here.
var schemaV4 = `
CREATE TABLE quotas (
	user_id   bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	used      bigint NOT NULL DEFAULT 0,
	max_bytes bigint -- NULL: the default limit; 0: unlimited
);

` + quotaTrigger("sealgate_quota_added", "+", onRows("quota_messages_ins", "INSERT", "messages", "changed")) + `
` + quotaTrigger("sealgate_quota_removed", "-", onRows("quota_messages_del", "DELETE", "messages", "changed")) + `
CREATE FUNCTION sealgate_quota_mailbox_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE quotas SET used = used - (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = OLD.id)
		WHERE user_id = OLD.user_id AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.user_id);
	RETURN OLD;
END $$;
CREATE TRIGGER quota_mailboxes_del BEFORE DELETE ON mailboxes
	FOR EACH ROW EXECUTE FUNCTION sealgate_quota_mailbox_deleted();

CREATE FUNCTION sealgate_check_quota(users bigint[], default_max bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE over bigint[];
BEGIN
	SELECT array_agg(DISTINCT user_id ORDER BY user_id) INTO over FROM quotas
		WHERE user_id = ANY(users) AND coalesce(max_bytes, default_max) > 0 AND used > coalesce(max_bytes, default_max);
	IF over IS NOT NULL THEN
		RAISE EXCEPTION 'over quota' USING ERRCODE = 'SGQTA', DETAIL = array_to_string(over, ',');
	END IF;
END $$;

INSERT INTO quotas(user_id, used)
	SELECT u.id, (SELECT coalesce(sum(m.size), 0) FROM mailboxes mb JOIN messages m ON m.mailbox_id = mb.id WHERE mb.user_id = u.id)
	FROM users u;
`

// quotaTrigger is the trigger function fn, run by t, that adds (op "+") or subtracts ("-")
// the sizes of the messages in changed from their accounts' usage.
func quotaTrigger(fn, op string, t trigger) string {
	return statementTriggers(fn, `	UPDATE quotas q SET used = q.used `+op+` d.n
	FROM (SELECT mb.user_id, sum(c.size)::bigint AS n FROM changed c JOIN mailboxes mb ON mb.id = c.mailbox_id
		GROUP BY mb.user_id) d
	WHERE q.user_id = d.user_id AND EXISTS (SELECT 1 FROM users u WHERE u.id = q.user_id);
`, t)
}

// sqlCheckQuota refuses the transaction when one of $1's accounts is past its limit.
const sqlCheckQuota = `SELECT sealgate_check_quota($1::bigint[], $2)`

// quotaErr turns sealgate_check_quota's exception into a *mailstore.QuotaError.
func quotaErr(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "SGQTA" {
		return err
	}
	qe := &mailstore.QuotaError{}
	for _, f := range strings.Split(pgErr.Detail, ",") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			qe.UserIDs = append(qe.UserIDs, id)
		}
	}
	return qe
}

// Quota returns an account's usage and limit. An account that does not exist has nothing
// used and the default limit.
func (s *Store) Quota(ctx context.Context, userID int64) (mailstore.Quota, error) {
	var q mailstore.Quota
	var own *int64
	err := s.pool.QueryRow(ctx, `SELECT used, max_bytes FROM quotas WHERE user_id = $1`, userID).Scan(&q.Used, &own)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return mailstore.Quota{}, err
	}
	switch {
	case own != nil:
		q.Limit, q.Own = *own, true
	default:
		q.Limit = max(s.opts.DefaultQuota, 0)
	}
	return q, nil
}

// SetQuota gives an account its own storage limit in bytes: mailstore.QuotaUnlimited (0) for
// none, mailstore.QuotaDefault (-1) to follow the default again. Messages already stored stay
// when the limit goes below what they take; new ones are refused.
func (s *Store) SetQuota(ctx context.Context, addr address.Address, limit int64) error {
	var arg *int64
	if limit >= 0 {
		arg = &limit
	}
	return s.execOne(ctx, `UPDATE quotas SET max_bytes = $1 WHERE user_id = (SELECT id FROM users WHERE address_key = $2)`,
		arg, addr.Key())
}

// overQuota is mailstore.ErrOverQuota itself for an err naming one account (Append,
// CopyMessages).
func overQuota(err error) error {
	if errors.Is(quotaErr(err), mailstore.ErrOverQuota) {
		return mailstore.ErrOverQuota
	}
	return err
}
