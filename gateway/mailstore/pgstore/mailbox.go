package pgstore

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Mailboxes lists a user's mailboxes ordered by name (byte order, as the embedded store).
func (s *Store) Mailboxes(ctx context.Context, userID int64) ([]mailstore.Mailbox, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+mailstore.MailboxColumns+` FROM mailboxes WHERE user_id = $1 ORDER BY name COLLATE "C"`, userID)
	return sqlrows.Collect(rows, err, mailstore.ScanMailbox)
}

// MailboxByName finds a user's mailbox; INBOX matches in any case, as a name and as the first
// level of one (mailstore.CanonicalMailboxName).
func (s *Store) MailboxByName(ctx context.Context, userID int64, name string) (mailstore.Mailbox, error) {
	name = mailstore.CanonicalMailboxName(name)
	m, err := mailstore.ScanMailbox(s.pool.QueryRow(ctx, `SELECT `+mailstore.MailboxColumns+` FROM mailboxes WHERE user_id = $1 AND name = $2`, userID, name))
	return m, notFound(err)
}

// createMailbox creates one mailbox with a fresh UIDVALIDITY: mailstore.ErrExists when the
// user has one of that name, mailstore.ErrNotFound when there is no such user.
func createMailbox(ctx context.Context, tx pgx.Tx, userID int64, name, specialUse string) (int64, error) {
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO mailboxes(user_id, name, special_use, uidvalidity)
		VALUES ($1, $2, $3, nextval('uidvalidity_seq')) ON CONFLICT (user_id, name) DO NOTHING RETURNING id`,
		userID, name, specialUse).Scan(&id)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, mailstore.ErrExists
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation: no such user
		return 0, mailstore.ErrNotFound
	}
	return id, err
}

// CreateMailbox creates a mailbox. The name must pass mailstore.ValidMailboxName.
func (s *Store) CreateMailbox(ctx context.Context, userID int64, name, specialUse string) (int64, error) {
	if !mailstore.ValidMailboxName(name) {
		return 0, mailstore.ErrInvalidName
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = createMailbox(ctx, tx, userID, name, specialUse)
		return err
	})
	return id, err
}

// CreateMailboxes creates name and every missing superior level of it (RFC 9051 §6.3.4).
// It fails with mailstore.ErrExists when name itself exists.
func (s *Store) CreateMailboxes(ctx context.Context, userID int64, name, specialUse string) (int64, error) {
	name = mailstore.CanonicalMailboxName(name)
	if !mailstore.ValidMailboxName(name) {
		return 0, mailstore.ErrInvalidName
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := createParents(ctx, tx, userID, name, ""); err != nil {
			return err
		}
		var err error
		id, err = createMailbox(ctx, tx, userID, name, specialUse)
		return err
	})
	return id, err
}

// createParents creates the missing superior levels of name, except skip.
func createParents(ctx context.Context, tx pgx.Tx, userID int64, name, skip string) error {
	for _, p := range mailstore.MailboxParents(name, skip) {
		if _, err := createMailbox(ctx, tx, userID, p, ""); err != nil && !errors.Is(err, mailstore.ErrExists) {
			return err
		}
	}
	return nil
}

// DeleteMailbox removes a mailbox and its messages. Mailboxes below it in the hierarchy stay.
func (s *Store) DeleteMailbox(ctx context.Context, userID int64, name string) error {
	name = mailstore.CanonicalMailboxName(name)
	if name == "INBOX" {
		return mailstore.ErrInboxDelete
	}
	return s.execOne(ctx, `DELETE FROM mailboxes WHERE user_id = $1 AND name = $2`, userID, name)
}

// RenameMailbox renames a mailbox and every mailbox below it (RFC 9051 §6.3.6), creating
// missing superior levels of the new name. Renaming INBOX moves its messages into a new
// mailbox and leaves INBOX empty; mailboxes below INBOX are not moved.
func (s *Store) RenameMailbox(ctx context.Context, userID int64, oldName, newName string) error {
	oldName, newName, err := mailstore.CheckRename(oldName, newName)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var oldID int64
		if err := tx.QueryRow(ctx, `SELECT id FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE`, userID, oldName).Scan(&oldID); err != nil {
			return notFound(err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM mailboxes WHERE user_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))`,
			userID, newName).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return mailstore.ErrExists
		}
		if err := createParents(ctx, tx, userID, newName, oldName); err != nil {
			return err
		}
		if oldName == "INBOX" {
			return renameInbox(ctx, tx, userID, oldID, newName)
		}
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET name = $1 || substr(name, char_length($2) + 1)
			WHERE user_id = $3 AND starts_with(name, $2 || '/')`, newName, oldName, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE mailboxes SET name = $1 WHERE id = $2`, newName, oldID)
		return err
	})
}

func renameInbox(ctx context.Context, tx pgx.Tx, userID, inboxID int64, newName string) error {
	newID, err := createMailbox(ctx, tx, userID, newName, "")
	if err != nil {
		return err
	}
	// The messages keep their UIDs: the new mailbox is empty and takes INBOX's UIDNEXT.
	var modseq, uidnext int64
	if err := tx.QueryRow(ctx, `UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1
		RETURNING highest_modseq, uidnext`, inboxID).Scan(&modseq, &uidnext); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidnext = $1, highest_modseq = $2 WHERE id = $3`, uidnext, modseq, newID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO imap_expunged(mailbox_id, uid, modseq) SELECT mailbox_id, uid, $1 FROM messages WHERE mailbox_id = $2`,
		modseq, inboxID); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE messages SET mailbox_id = $1, modseq = $2 WHERE mailbox_id = $3`, newID, modseq, inboxID)
	return err
}

// SetSubscribed marks a mailbox subscribed or not.
func (s *Store) SetSubscribed(ctx context.Context, userID int64, name string, subscribed bool) error {
	return s.execOne(ctx, `UPDATE mailboxes SET subscribed = $1 WHERE user_id = $2 AND name = $3`,
		subscribed, userID, mailstore.CanonicalMailboxName(name))
}

// MailboxStatus counts a mailbox's messages.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (mailstore.MailboxCounts, error) {
	var c mailstore.MailboxCounts
	var un, uv, hm, msgs, unseen, deleted int64
	// mailbox_counts (schemaV7) holds the figures; a mailbox without a row has no messages.
	err := s.pool.QueryRow(ctx, `SELECT mb.uidnext, mb.uidvalidity, mb.highest_modseq, coalesce(c.messages, 0),
		coalesce(c.unseen, 0), coalesce(c.deleted, 0), coalesce(c.size, 0)
		FROM mailboxes mb LEFT JOIN mailbox_counts c ON c.mailbox_id = mb.id WHERE mb.id = $1`, mailboxID).
		Scan(&un, &uv, &hm, &msgs, &unseen, &deleted, &c.Size)
	if err != nil {
		return c, notFound(err)
	}
	c.UIDNext, c.UIDValidity, c.HighestModSeq = uint32(un), uint32(uv), uint64(hm)
	c.Messages, c.Unseen, c.Deleted = uint32(msgs), uint32(unseen), uint32(deleted)
	return c, nil
}

// Messages lists the messages of a mailbox in UID order.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]mailstore.Message, error) {
	return s.MessagesInRange(ctx, mailboxID, 0, 1<<32-1)
}

// MessagesInRange lists the messages of a mailbox with lo <= UID <= hi, in UID order.
func (s *Store) MessagesInRange(ctx context.Context, mailboxID int64, lo, hi uint32) ([]mailstore.Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+mailstore.MessageColumns+` FROM messages m
		WHERE m.mailbox_id = $1 AND m.uid BETWEEN $2 AND $3 ORDER BY m.uid`, mailboxID, int64(lo), int64(hi))
	return sqlrows.Collect(rows, err, func(r mailstore.Row) (mailstore.Message, error) { return mailstore.ScanMessage(r, mailboxID) })
}

// bumpModSeq raises a mailbox's MODSEQ and returns the new value.
func bumpModSeq(ctx context.Context, tx pgx.Tx, mailboxID int64) (uint64, error) {
	var modseq int64
	err := tx.QueryRow(ctx, `UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq`,
		mailboxID).Scan(&modseq)
	return uint64(modseq), notFound(err)
}

// SetFlags replaces the system flags of the given messages and bumps their MODSEQ.
func (s *Store) SetFlags(ctx context.Context, mailboxID int64, uids []uint32, flags mailstore.Flags) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		modseq, err := bumpModSeq(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE messages SET flags = $1, modseq = $2 WHERE mailbox_id = $3 AND uid = ANY($4)`,
			int(flags), int64(modseq), mailboxID, uid32s(uids))
		return err
	})
}

// Expunge removes the given messages from a mailbox. Bodies no longer referenced are deleted.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		// The MODSEQ goes up first, so the tombstones carry a value no session has seen yet.
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1`, mailboxID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)`, mailboxID, uid32s(uids))
		return err
	})
}

// UpdateFlags changes the flags of the given messages of a mailbox. Messages whose flags
// change get a new MODSEQ. It returns the resulting state of every given message that
// exists, in the order given (UID order when uids are sorted).
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, ch mailstore.FlagChange) ([]mailstore.Message, error) {
	var out []mailstore.Message
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		modseq, err := bumpModSeq(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT uid, flags, keywords, modseq FROM messages
			WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid FOR UPDATE`, mailboxID, uid32s(uids))
		if err != nil {
			return err
		}
		states, err := mailstore.ScanFlagStates(rows, mailboxID)
		rows.Close()
		if err != nil {
			return err
		}
		cur := make(map[uint32]mailstore.Message, len(states))
		for _, m := range states {
			cur[m.UID] = m
		}
		var chUIDs []int64
		var chFlags []int32
		var chKw []string
		for _, uid := range uids {
			m, ok := cur[uid]
			if !ok || !ch.Permits(m) {
				continue
			}
			m, changed := ch.ApplyTo(m, modseq)
			if changed {
				cur[uid] = m
				chUIDs = append(chUIDs, int64(uid))
				chFlags = append(chFlags, int32(m.Flags))
				chKw = append(chKw, mailstore.KeywordsColumn(m.Keywords))
			}
			out = append(out, m)
		}
		if len(chUIDs) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE messages m SET flags = v.f, keywords = v.k, modseq = $2
			FROM unnest($3::bigint[], $4::int[], $5::text[]) AS v(uid, f, k)
			WHERE m.mailbox_id = $1 AND m.uid = v.uid`, mailboxID, int64(modseq), chUIDs, chFlags, chKw)
		return err
	})
	return out, err
}

// CopyMessages copies messages into another mailbox of the same user, in the order and with
// the UIDs and MODSEQ mailstore.CopyUIDs describes; with move, they leave the source in the
// same transaction. Bodies are shared, not duplicated.
func (s *Store) CopyMessages(ctx context.Context, srcID, dstID int64, uids []uint32, move bool) (mailstore.CopyResult, error) {
	var res mailstore.CopyResult
	uids = mailstore.CopyUIDs(uids)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		res = mailstore.CopyResult{}
		var srcUser, dstUser, uv int64
		if err := tx.QueryRow(ctx, `SELECT user_id FROM mailboxes WHERE id = $1`, srcID).Scan(&srcUser); err != nil {
			return notFound(err)
		}
		if err := tx.QueryRow(ctx, `SELECT user_id, uidvalidity FROM mailboxes WHERE id = $1`, dstID).Scan(&dstUser, &uv); err != nil {
			return notFound(err)
		}
		if srcUser != dstUser {
			return mailstore.ErrNotFound
		}
		res.UIDValidity = uint32(uv)
		if move {
			if _, err := bumpModSeq(ctx, tx, srcID); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid FOR UPDATE`,
			srcID, uid32s(uids))
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(found) == 0 {
			return err
		}
		n := int64(len(found))
		var first, modseq int64
		if err := tx.QueryRow(ctx, `UPDATE mailboxes SET uidnext = uidnext + $1, highest_modseq = highest_modseq + 1
			WHERE id = $2 RETURNING uidnext - $1, highest_modseq`, n, dstID).Scan(&first, &modseq); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE bodies b SET refs = refs + c.n FROM (SELECT body_id, count(*) AS n FROM messages
			WHERE mailbox_id = $1 AND uid = ANY($2) GROUP BY body_id) c WHERE b.id = c.body_id`, srcID, found); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO messages(mailbox_id, uid, body_id, flags, keywords, internal_date, size, modseq)
			SELECT $1, $2 + row_number() OVER (ORDER BY uid) - 1, body_id, flags, keywords, internal_date, size, $3
			FROM messages WHERE mailbox_id = $4 AND uid = ANY($5)`, dstID, first, modseq, srcID, found); err != nil {
			return err
		}
		if move {
			if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)`, srcID, found); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, sqlCheckQuota, []int64{dstUser}, s.opts.DefaultQuota); err != nil {
			return overQuota(err)
		}
		for i, uid := range found {
			res.Source = append(res.Source, uint32(uid))
			res.Dest = append(res.Dest, uint32(first+int64(i)))
		}
		return nil
	})
	return res, err
}

// ExpungeDeleted removes the messages flagged \Deleted from a mailbox; when only is not nil,
// only those among the given UIDs. It returns the UIDs removed, in order.
func (s *Store) ExpungeDeleted(ctx context.Context, mailboxID int64, only []uint32) ([]uint32, error) {
	var out []uint32
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		// The MODSEQ goes up first, so the tombstones carry a value no session has seen yet.
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1`, mailboxID); err != nil {
			return err
		}
		var rows pgx.Rows
		var err error
		if only != nil {
			rows, err = tx.Query(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND flags & $2 != 0 AND uid = ANY($3) RETURNING uid`,
				mailboxID, int(mailstore.FlagDeleted), uid32s(only))
		} else {
			rows, err = tx.Query(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND flags & $2 != 0 RETURNING uid`,
				mailboxID, int(mailstore.FlagDeleted))
		}
		if err != nil {
			return err
		}
		removed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		for _, uid := range removed {
			out = append(out, uint32(uid))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// Snapshot reads a mailbox and the flags of its messages in one statement (one snapshot).
func (s *Store) Snapshot(ctx context.Context, mailboxID int64) (mailstore.MailboxSnapshot, error) {
	// The mailbox row, then its messages, in one repeatable-read transaction. One query
	// joining the two repeated the mailbox's columns on every message row, and decoding them
	// (and the nullable message columns) was most of the cost of a large mailbox's SELECT.
	var snap mailstore.MailboxSnapshot
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return snap, err
	}
	defer tx.Rollback(context.Background())
	mb := &snap.Mailbox
	var uv, un, hm, count int64
	err = tx.QueryRow(ctx, `SELECT mb.id, mb.user_id, mb.name, mb.special_use, mb.uidvalidity, mb.uidnext,
		mb.highest_modseq, mb.subscribed, coalesce(c.messages, 0)
		FROM mailboxes mb LEFT JOIN mailbox_counts c ON c.mailbox_id = mb.id WHERE mb.id = $1`, mailboxID).
		Scan(&mb.ID, &mb.UserID, &mb.Name, &mb.SpecialUse, &uv, &un, &hm, &mb.Subscribed, &count)
	if err != nil {
		return snap, notFound(err)
	}
	mb.UIDValidity, mb.UIDNext, mb.HighestModSeq = uint32(uv), uint32(un), uint64(hm)
	rows, err := tx.Query(ctx, `SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = $1 ORDER BY uid`, mailboxID)
	if err != nil {
		return snap, err
	}
	defer rows.Close()
	snap.Messages = make([]mailstore.Message, 0, count)
	for rows.Next() {
		m, err := mailstore.ScanFlagState(rows, mailboxID)
		if err != nil {
			return snap, err
		}
		snap.Messages = append(snap.Messages, m)
	}
	return snap, rows.Err()
}

// HighestModSeq returns a mailbox's current MODSEQ, the cheap test for "anything new?".
func (s *Store) HighestModSeq(ctx context.Context, mailboxID int64) (uint64, error) {
	var hm int64
	err := s.pool.QueryRow(ctx, `SELECT highest_modseq FROM mailboxes WHERE id = $1`, mailboxID).Scan(&hm)
	return uint64(hm), notFound(err)
}

// ChangesSince returns the messages added or changed and the UIDs expunged at or after
// modseq, read in one repeatable-read transaction. Results may repeat changes already seen
// at exactly modseq; callers compare.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (mailstore.Changes, error) {
	var c mailstore.Changes
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return c, err
	}
	defer tx.Rollback(context.Background())
	var hm int64
	if err := tx.QueryRow(ctx, `SELECT highest_modseq FROM mailboxes WHERE id = $1`, mailboxID).Scan(&hm); err != nil {
		return c, notFound(err)
	}
	c.HighestModSeq = uint64(hm)
	rows, err := tx.Query(ctx, `SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = $1 AND modseq >= $2 ORDER BY uid`,
		mailboxID, int64(modseq))
	if err != nil {
		return c, err
	}
	c.Changed, err = mailstore.ScanFlagStates(rows, 0)
	rows.Close()
	if err != nil {
		return c, err
	}
	rows, err = tx.Query(ctx, `SELECT uid FROM imap_expunged WHERE mailbox_id = $1 AND modseq >= $2`, mailboxID, int64(modseq))
	if err != nil {
		return c, err
	}
	exp, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	for _, uid := range exp {
		c.Expunged = append(c.Expunged, uint32(uid))
	}
	return c, err
}
