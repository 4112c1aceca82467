package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// FlagOp says how UpdateFlags combines the given flags with a message's flags.
type FlagOp int

// Flag operations (RFC 9051 §6.4.6: FLAGS, +FLAGS, -FLAGS).
const (
	FlagsReplace FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// FlagChange is one STORE.
type FlagChange struct {
	Op       FlagOp
	Flags    Flags
	Keywords []string // compared case-insensitively
	// UnchangedSince, when not 0, makes the change conditional (STORE UNCHANGEDSINCE, RFC
	// 7162 §3.1.3): a message whose MODSEQ is above it is left as it is and left out of
	// UpdateFlags' result. The test and the change are one transaction.
	UnchangedSince uint64
}

// Permits reports whether the change may touch m: it is unconditional, or m has not
// changed since UnchangedSince.
func (c FlagChange) Permits(m Message) bool {
	return c.UnchangedSince == 0 || m.ModSeq <= c.UnchangedSince
}

// Apply returns the system flags and keywords a message has after the change, given the
// ones it has: keywords compared case-insensitively, empty ones and repeats dropped. Every
// store implements STORE with it, so all of them agree on the outcome.
func (c FlagChange) Apply(f Flags, kw []string) (Flags, []string) {
	switch c.Op {
	case FlagsReplace:
		return c.Flags, NormalizeKeywords(c.Keywords)
	case FlagsAdd:
		out := slices.Clone(kw)
		for _, k := range c.Keywords {
			if !containsFold(out, k) {
				out = append(out, k)
			}
		}
		return f | c.Flags, NormalizeKeywords(out)
	default:
		var out []string
		for _, k := range kw {
			if !containsFold(c.Keywords, k) {
				out = append(out, k)
			}
		}
		return f &^ c.Flags, out
	}
}

// ApplyTo is m after the change, and whether the change altered its flags or keywords: an
// altered message takes modseq, the mailbox's new MODSEQ; one left as it was keeps its own
// (RFC 7162 §3.1.3).
func (c FlagChange) ApplyTo(m Message, modseq uint64) (Message, bool) {
	nf, nkw := c.Apply(m.Flags, m.Keywords)
	if nf == m.Flags && SameKeywords(nkw, m.Keywords) {
		return m, false
	}
	m.Flags, m.Keywords, m.ModSeq = nf, nkw, modseq
	return m, true
}

// KeywordsColumn is kw as the stores keep it, normalized (NormalizeKeywords), one space
// between each; Keywords reads it back.
func KeywordsColumn(kw []string) string { return strings.Join(NormalizeKeywords(kw), " ") }

// NormalizeKeywords drops empty keywords and repeats (compared case-insensitively), keeping
// the first spelling and the order.
func NormalizeKeywords(kw []string) []string {
	var out []string
	for _, k := range kw {
		if k != "" && !containsFold(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// SameKeywords reports whether two normalized keyword lists hold the same keywords, in any
// order and case.
func SameKeywords(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, k := range a {
		if !containsFold(b, k) {
			return false
		}
	}
	return true
}

// UpdateFlags changes the flags of the given messages of a mailbox. Messages whose flags
// change get a new MODSEQ. It returns the resulting state of every given message that
// exists and that ch permits (FlagChange.Permits), in UID order.
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, ch FlagChange) ([]Message, error) {
	var out []Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		var modseq uint64
		if err := tx.QueryRow(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq`,
			mailboxID).Scan(&modseq); err != nil {
			return notFound(err)
		}
		// Prepared once for the whole set: preparing costs about as much as running them, and a
		// STORE may name tens of thousands of messages.
		get, err := tx.Prepare(`SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND uid = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		set, err := tx.Prepare(`UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?`)
		if err != nil {
			return err
		}
		defer set.Close()
		for _, uid := range uids {
			m, err := ScanFlagState(get.QueryRow(mailboxID, uid), mailboxID)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if !ch.Permits(m) {
				continue
			}
			m, changed := ch.ApplyTo(m, modseq)
			if changed {
				if _, err := set.Exec(m.Flags, KeywordsColumn(m.Keywords), modseq, mailboxID, uid); err != nil {
					return err
				}
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// CopyResult maps the UIDs of copied messages to their UIDs in the destination.
type CopyResult struct {
	UIDValidity uint32
	Source      []uint32
	Dest        []uint32
}

// CopyMessages copies messages into another mailbox of the same user, in the order and with
// the UIDs and MODSEQ CopyUIDs describes; with move, they leave the source in the same
// transaction. Bodies are shared, not duplicated.
func (s *Store) CopyMessages(ctx context.Context, srcID, dstID int64, uids []uint32, move bool) (CopyResult, error) {
	var res CopyResult
	uids = CopyUIDs(uids)
	err := s.write(ctx, func(tx *sql.Tx) error {
		res = CopyResult{}
		var srcUser, dstUser int64
		if err := tx.QueryRow(`SELECT user_id FROM mailboxes WHERE id = ?`, srcID).Scan(&srcUser); err != nil {
			return notFound(err)
		}
		if err := tx.QueryRow(`SELECT user_id, uidvalidity FROM mailboxes WHERE id = ?`, dstID).Scan(&dstUser, &res.UIDValidity); err != nil {
			return notFound(err)
		}
		if srcUser != dstUser {
			return ErrNotFound
		}
		var srcModseq uint64
		if move {
			if err := tx.QueryRow(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq`,
				srcID).Scan(&srcModseq); err != nil {
				return err
			}
		}
		var modseq uint64 // of every copy: set by the first
		for _, uid := range uids {
			var bodyID, date, size int64
			var flags Flags
			var kw string
			err := tx.QueryRow(`SELECT body_id, flags, keywords, internal_date, size FROM messages WHERE mailbox_id = ? AND uid = ?`,
				srcID, uid).Scan(&bodyID, &flags, &kw, &date, &size)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			var newUID uint32
			if modseq == 0 {
				err = tx.QueryRow(`UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
					WHERE id = ? RETURNING uidnext - 1, highest_modseq`, dstID).Scan(&newUID, &modseq)
			} else {
				err = tx.QueryRow(`UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ? RETURNING uidnext - 1`, dstID).Scan(&newUID)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE bodies SET refs = refs + 1 WHERE id = ?`, bodyID); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO messages(mailbox_id, uid, body_id, flags, keywords, internal_date, size, modseq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, dstID, newUID, bodyID, flags, kw, date, size, modseq); err != nil {
				return err
			}
			if move {
				if _, err := tx.Exec(`DELETE FROM messages WHERE mailbox_id = ? AND uid = ?`, srcID, uid); err != nil {
					return err
				}
			}
			res.Source = append(res.Source, uid)
			res.Dest = append(res.Dest, newUID)
		}
		if move {
			return nil // nothing more is stored than before
		}
		return overQuota(s.overQuotaTx(tx, []int64{dstUser}))
	})
	return res, err
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// ExpungeDeleted removes the messages flagged \Deleted from a mailbox; when only is not nil,
// only those among the given UIDs. It returns the UIDs removed, in order.
func (s *Store) ExpungeDeleted(ctx context.Context, mailboxID int64, only []uint32) ([]uint32, error) {
	var out []uint32
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		// The MODSEQ goes up first, so the tombstones carry a value no session has seen yet.
		if _, err := tx.Exec(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?`, mailboxID); err != nil {
			return err
		}
		if only != nil {
			return expungeOnlyTx(tx, mailboxID, only, &out)
		}
		gone, err := sqlrows.CollectColumn[uint32](tx.Query(`DELETE FROM messages WHERE mailbox_id = ? AND flags & ? != 0 RETURNING uid`,
			mailboxID, FlagDeleted))
		out = append(out, gone...)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	s.purgeSearchSoon()
	return out, s.removeDeadFiles(ctx)
}

func expungeOnlyTx(tx *sql.Tx, mailboxID int64, only []uint32, out *[]uint32) error {
	for _, uid := range only {
		res, err := tx.Exec(`DELETE FROM messages WHERE mailbox_id = ? AND uid = ? AND flags & ? != 0`, mailboxID, uid, FlagDeleted)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			*out = append(*out, uid)
		}
	}
	return nil
}

// AppendRequest is one message added to a mailbox by a client (IMAP APPEND).
type AppendRequest struct {
	UserID       int64
	MailboxID    int64
	Body         Body
	Flags        Flags
	Keywords     []string
	InternalDate time.Time // zero means now
}

// Append stores a message in a mailbox durably and returns the mailbox's UIDVALIDITY and the
// message's UID.
func (s *Store) Append(ctx context.Context, r AppendRequest) (uint32, uint32, error) {
	uv, uids, err := s.AppendAll(ctx, []AppendRequest{r})
	if err != nil {
		return 0, 0, err
	}
	return uv, uids[0], nil
}

// AppendAll stores messages in one mailbox in one transaction (IMAP MULTIAPPEND): all of
// them or, on any error (over quota among them), none. It returns the mailbox's UIDVALIDITY
// and the messages' UIDs, in order.
func (s *Store) AppendAll(ctx context.Context, rs []AppendRequest) (uint32, []uint32, error) {
	if err := CheckAppendAll(rs); err != nil {
		return 0, nil, err
	}
	type prepared struct {
		data []byte
		path any // the blob's path, nil when the body is inline
		hs   int64
	}
	ps := make([]prepared, len(rs))
	removeBlobs := func() {
		for _, p := range ps {
			if p.path != nil {
				removeFile(s.dir, p.path.(string))
			}
		}
	}
	for i, r := range rs {
		size := r.Body.Size()
		if size > InlineLimit {
			path, hs, err := s.writeBlob(r.Body)
			if err != nil {
				removeBlobs()
				return 0, nil, err
			}
			ps[i].path, ps[i].hs = path, hs
			continue
		}
		data, err := ReadBody(r.Body)
		if err == nil && int64(len(data)) != size {
			err = fmt.Errorf("mailstore: append: body is %d bytes, not %d", len(data), size)
		}
		if err != nil {
			removeBlobs()
			return 0, nil, err
		}
		ps[i].data, ps[i].hs = data, HeaderSize(data)
	}
	var uidValidity uint32
	var uids []uint32
	err := s.write(ctx, func(tx *sql.Tx) error {
		uids = uids[:0]
		for i, r := range rs {
			date := r.InternalDate
			if date.IsZero() {
				date = s.opts.Now()
			}
			size := r.Body.Size()
			res, err := tx.Exec(`INSERT INTO bodies(size, header_size, data, path, refs) VALUES (?, ?, ?, ?, 1)`, size, ps[i].hs, ps[i].data, ps[i].path)
			if err != nil {
				return err
			}
			bodyID, _ := res.LastInsertId()
			var uid uint32
			var modseq uint64
			err = tx.QueryRow(`UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
				WHERE id = ? AND user_id = ? RETURNING uidvalidity, uidnext - 1, highest_modseq`, r.MailboxID, r.UserID).
				Scan(&uidValidity, &uid, &modseq)
			if err != nil {
				return notFound(err)
			}
			_, err = tx.Exec(`INSERT INTO messages(mailbox_id, uid, body_id, flags, keywords, internal_date, size, modseq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.MailboxID, uid, bodyID, r.Flags, KeywordsColumn(r.Keywords),
				date.UnixMilli(), size, modseq)
			if err != nil {
				return err
			}
			uids = append(uids, uid)
		}
		return overQuota(s.overQuotaTx(tx, []int64{rs[0].UserID}))
	})
	if err != nil {
		removeBlobs()
		return 0, nil, err
	}
	return uidValidity, uids, nil
}

// CheckAppendAll refuses an AppendAll that has no message or spans mailboxes: UIDPLUS
// reports one UIDVALIDITY for the batch.
func CheckAppendAll(rs []AppendRequest) error {
	if len(rs) == 0 {
		return errors.New("mailstore: append: no message")
	}
	for _, r := range rs[1:] {
		if r.UserID != rs[0].UserID || r.MailboxID != rs[0].MailboxID {
			return errors.New("mailstore: append: messages for more than one mailbox")
		}
	}
	return nil
}

// MailboxSnapshot is a consistent view of a mailbox: its state and every message's flags.
type MailboxSnapshot struct {
	Mailbox  Mailbox
	Messages []Message // UID, Flags, Keywords, ModSeq only
}

// Snapshot reads a mailbox and the flags of its messages in one read transaction.
func (s *Store) Snapshot(ctx context.Context, mailboxID int64) (MailboxSnapshot, error) {
	var snap MailboxSnapshot
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return snap, err
	}
	defer tx.Rollback()
	m := &snap.Mailbox
	err = tx.QueryRow(`SELECT id, user_id, name, special_use, uidvalidity, uidnext, highest_modseq, subscribed
		FROM mailboxes WHERE id = ?`, mailboxID).
		Scan(&m.ID, &m.UserID, &m.Name, &m.SpecialUse, &m.UIDValidity, &m.UIDNext, &m.HighestModSeq, &m.Subscribed)
	if err != nil {
		return snap, notFound(err)
	}
	snap.Messages, err = flagRows(tx, `SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = ? ORDER BY uid`, mailboxID)
	return snap, err
}

// Changes is what happened in a mailbox since a MODSEQ.
type Changes struct {
	HighestModSeq uint64
	Changed       []Message // UID, Flags, Keywords, ModSeq of messages added or changed
	Expunged      []uint32
}

// HighestModSeq returns a mailbox's current MODSEQ, the cheap test for "anything new?".
func (s *Store) HighestModSeq(ctx context.Context, mailboxID int64) (uint64, error) {
	var hm uint64
	err := s.rdb.QueryRowContext(ctx, `SELECT highest_modseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&hm)
	return hm, notFound(err)
}

// ChangesSince returns the messages added or changed and the UIDs expunged at or after
// modseq. Results may repeat changes already seen at exactly modseq; callers compare.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (Changes, error) {
	var c Changes
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	if err := tx.QueryRow(`SELECT highest_modseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&c.HighestModSeq); err != nil {
		return c, notFound(err)
	}
	c.Changed, err = flagRows(tx, `SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND modseq >= ? ORDER BY uid`,
		mailboxID, modseq)
	if err != nil {
		return c, err
	}
	c.Expunged, err = sqlrows.CollectColumn[uint32](tx.Query(`SELECT uid FROM imap_expunged WHERE mailbox_id = ? AND modseq >= ?`,
		mailboxID, modseq))
	return c, err
}

func flagRows(tx *sql.Tx, query string, args ...any) ([]Message, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return ScanFlagStates(rows, 0)
}

// MessagesInRange lists the messages of a mailbox with lo <= UID <= hi, in UID order.
func (s *Store) MessagesInRange(ctx context.Context, mailboxID int64, lo, hi uint32) ([]Message, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+MessageColumns+` FROM messages m
		WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`, mailboxID, lo, hi)
	return collectMessages(rows, err, mailboxID)
}
