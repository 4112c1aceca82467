package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// schemaV5: the \Recent mark of IMAP4rev1 (mailstore.Store.ClaimRecent): the highest UID
// of a mailbox some session has claimed as recent.
const schemaV5 = `
CREATE TABLE imap_recent (
	mailbox_id bigint PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        bigint NOT NULL
);
`

// ClaimRecent raises the mailbox's \Recent mark to upTo and returns the mark before; the
// row lock makes two sessions claiming at once get disjoint ranges.
func (s *Store) ClaimRecent(ctx context.Context, mailboxID int64, upTo uint32) (uint32, error) {
	var prev int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		prev = 0
		var id int64
		// Locking the mailbox row serializes claims, also the first one (no imap_recent row yet).
		if err := tx.QueryRow(ctx, `SELECT id FROM mailboxes WHERE id = $1 FOR UPDATE`, mailboxID).Scan(&id); err != nil {
			return notFound(err)
		}
		err := tx.QueryRow(ctx, `SELECT uid FROM imap_recent WHERE mailbox_id = $1`, mailboxID).Scan(&prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if int64(upTo) <= prev {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO imap_recent(mailbox_id, uid) VALUES ($1, $2)
			ON CONFLICT (mailbox_id) DO UPDATE SET uid = excluded.uid`, mailboxID, int64(upTo))
		return err
	})
	return uint32(prev), err
}

// RecentMark returns the mailbox's \Recent mark without claiming anything.
func (s *Store) RecentMark(ctx context.Context, mailboxID int64) (uint32, error) {
	var mark int64
	err := s.pool.QueryRow(ctx, `SELECT uid FROM imap_recent WHERE mailbox_id = $1`, mailboxID).Scan(&mark)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint32(mark), err
}
