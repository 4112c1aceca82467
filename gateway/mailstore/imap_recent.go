package mailstore

import (
	"context"
	"database/sql"
	"errors"
)

// schemaIMAPRecent: the \Recent mark of IMAP4rev1 (RFC 3501 §2.3.2). A message is recent
// for the one session that first selects its mailbox after the message arrived; the mark is
// the highest UID some session has claimed so. A mailbox without a row has claimed none.
// Kept apart from mailboxes so that the table is new rather than a changed one.
const schemaIMAPRecent = `
CREATE TABLE IF NOT EXISTS imap_recent (
	mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        INTEGER NOT NULL
) STRICT;
`

// ClaimRecent raises the mailbox's \Recent mark to upTo and returns the mark before: the
// messages with UIDs above it and up to upTo are recent for the caller alone. Two sessions
// claiming at once get disjoint ranges.
func (s *Store) ClaimRecent(ctx context.Context, mailboxID int64, upTo uint32) (uint32, error) {
	var prev uint32
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM mailboxes WHERE id = ?`, mailboxID).Scan(&one); err != nil {
			return notFound(err)
		}
		err := tx.QueryRow(`SELECT uid FROM imap_recent WHERE mailbox_id = ?`, mailboxID).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if upTo <= prev {
			return nil
		}
		_, err = tx.Exec(`INSERT INTO imap_recent(mailbox_id, uid) VALUES (?, ?)
			ON CONFLICT (mailbox_id) DO UPDATE SET uid = excluded.uid`, mailboxID, upTo)
		return err
	})
	return prev, err
}

// RecentMark returns the mailbox's \Recent mark without claiming anything (EXAMINE, STATUS).
func (s *Store) RecentMark(ctx context.Context, mailboxID int64) (uint32, error) {
	var mark uint32
	err := s.rdb.QueryRowContext(ctx, `SELECT uid FROM imap_recent WHERE mailbox_id = ?`, mailboxID).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return mark, err
}
