package mailstore

import (
	"context"
	"database/sql"
	"time"
)

// Search rows of deleted bodies (imap_search_dead) are removed in the background, a batch per
// write transaction: removing an FTS5 row tokenizes its text again, about half a millisecond
// a message, which an EXPUNGE of thousands of messages would otherwise wait for.
const (
	purgeBatch = 128
	// purgeInterval is how often the loop looks for rows left over without being told (a
	// crash, another process's expunge).
	purgeInterval = 30 * time.Second
)

// purgeSearchSoon wakes purgeSearchLoop; it does not block.
func (s *Store) purgeSearchSoon() {
	select {
	case s.purge <- struct{}{}:
	default:
	}
}

// purgeSearchLoop removes the search rows of deleted bodies until the store closes. Between
// batches it pauses as long as the batch took, leaving at least half of the writer to
// deliveries and clients.
func (s *Store) purgeSearchLoop() {
	defer close(s.purgeDone)
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopped:
			return
		case <-s.purge:
		case <-t.C:
		}
		for {
			t0 := time.Now()
			n, err := s.purgeSearch(context.Background(), purgeBatch)
			if err != nil || n == 0 {
				break
			}
			select {
			case <-s.stopped:
				return
			case <-time.After(time.Since(t0)):
			}
		}
	}
}

// purgeSearch removes up to limit search rows of deleted bodies and returns how many.
func (s *Store) purgeSearch(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM imap_search WHERE rowid IN (SELECT id FROM imap_search_dead ORDER BY id LIMIT ?)`, limit)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM imap_search_dead WHERE id IN (SELECT id FROM imap_search_dead ORDER BY id LIMIT ?)`, limit); err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
		return nil
	})
	return n, err
}
