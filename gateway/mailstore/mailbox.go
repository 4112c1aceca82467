package mailstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// Mailbox is a folder of one user.
type Mailbox struct {
	ID            int64
	UserID        int64
	Name          string
	SpecialUse    string
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Subscribed    bool
}

// Flags are the IMAP system flags of a message.
type Flags uint16

// System flags (RFC 9051 §2.3.2).
const (
	FlagSeen Flags = 1 << iota
	FlagAnswered
	FlagFlagged
	FlagDeleted
	FlagDraft
)

// Message is a message's entry in a mailbox.
type Message struct {
	MailboxID    int64
	UID          uint32
	BodyID       int64
	Flags        Flags
	Keywords     []string
	InternalDate time.Time
	Size         int64
	ModSeq       uint64
}

// Mailboxes lists a user's mailboxes ordered by name.
func (s *Store) Mailboxes(ctx context.Context, userID int64) ([]Mailbox, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+MailboxColumns+` FROM mailboxes WHERE user_id = ? ORDER BY name`, userID)
	return sqlrows.Collect(rows, err, ScanMailbox)
}

// MailboxByName finds a user's mailbox; INBOX matches in any case, as a name and as the first
// level of one (CanonicalMailboxName).
func (s *Store) MailboxByName(ctx context.Context, userID int64, name string) (Mailbox, error) {
	name = canonicalName(name)
	m, err := ScanMailbox(s.rdb.QueryRowContext(ctx, `SELECT `+MailboxColumns+` FROM mailboxes WHERE user_id = ? AND name = ?`,
		userID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, ErrNotFound
	}
	return m, err
}

// CreateMailbox creates a mailbox. The name must pass ValidMailboxName.
func (s *Store) CreateMailbox(ctx context.Context, userID int64, name, specialUse string) (int64, error) {
	if !ValidMailboxName(name) {
		return 0, ErrInvalidName
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = createMailboxTx(tx, userID, name, specialUse)
		return err
	})
	return id, err
}

// Messages lists the messages of a mailbox in UID order.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]Message, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+MessageColumns+` FROM messages m WHERE m.mailbox_id = ? ORDER BY m.uid`, mailboxID)
	return collectMessages(rows, err, mailboxID)
}

// collectMessages reads a result of MessageColumns as messages of mailboxID.
func collectMessages(rows Rows, err error, mailboxID int64) ([]Message, error) {
	return sqlrows.Collect(rows, err, func(r Row) (Message, error) { return ScanMessage(r, mailboxID) })
}

// OpenBody returns a reader over a stored body and its size.
func (s *Store) OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error) {
	var data []byte
	var path sql.NullString
	var size int64
	if s.rdb.closed.Load() {
		return nil, 0, ErrClosed
	}
	err := s.rdb.closedErr(s.openBody.QueryRowContext(ctx, bodyID).Scan(&data, &path, &size))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	if path.Valid {
		f, err := os.Open(filepath.Join(s.dir, path.String))
		if err != nil {
			return nil, 0, err
		}
		return f, size, nil
	}
	return io.NopCloser(bytes.NewReader(data)), size, nil
}

// InlineBodies returns the bodies with these ids that are kept inside the database, in one
// query; bodies stored as files (larger than InlineLimit) and missing ones are left out, for
// OpenBody. For reading many small messages at once (IMAP FETCH of a whole mailbox).
func (s *Store) InlineBodies(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var q strings.Builder
	q.WriteString(`SELECT id, data FROM bodies WHERE path IS NULL AND id IN (`)
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('?')
		args[i] = id
	}
	q.WriteByte(')')
	rows, err := s.rdb.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return out, ScanBodies(rows, out)
}

// SetFlags replaces the system flags of the given messages and bumps their MODSEQ.
func (s *Store) SetFlags(ctx context.Context, mailboxID int64, uids []uint32, flags Flags) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var modseq int64
		if err := tx.QueryRow(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq`,
			mailboxID).Scan(&modseq); err != nil {
			return notFound(err)
		}
		for _, uid := range uids {
			if _, err := tx.Exec(`UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?`,
				flags, modseq, mailboxID, uid); err != nil {
				return err
			}
		}
		return nil
	})
}

// Expunge removes the given messages from a mailbox. Bodies no longer referenced are deleted.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The MODSEQ goes up first, so the tombstones carry a value no session has seen yet.
		if _, err := tx.Exec(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?`, mailboxID); err != nil {
			return err
		}
		for _, uid := range uids {
			if _, err := tx.Exec(`DELETE FROM messages WHERE mailbox_id = ? AND uid = ?`, mailboxID, uid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.removeDeadFiles(ctx)
}
