package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Check verifies the store's consistency and returns every problem found (none: nil): body
// reference counts, bodies whose chunks do not add up to their size, UIDNEXT above every
// UID, quota usage counters, and spool entries with recipients. PostgreSQL enforces the foreign keys itself. It
// only reads, in one repeatable-read snapshot.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	var probs []string
	checks := []struct {
		q      string
		args   []any
		report func(a, b, c int64) string
	}{
		{q: `SELECT id, refs, n FROM (SELECT b.id, b.refs,
				(SELECT count(*) FROM messages m WHERE m.body_id = b.id) + (SELECT count(*) FROM queue q WHERE q.body_id = b.id) AS n
			FROM bodies b) x WHERE refs != n`,
			report: func(id, refs, n int64) string {
				return fmt.Sprintf("body %d: reference count %d, but %d references", id, refs, n)
			}},
		{q: `SELECT b.id, b.size, coalesce(sum(length(c.data)), 0) FROM bodies b LEFT JOIN body_chunks c ON c.body_id = b.id
			GROUP BY b.id HAVING b.size != coalesce(sum(length(c.data)), 0)
				OR count(c.seq) != greatest(1, (b.size + $1 - 1) / $1) OR count(c.seq) != coalesce(max(c.seq), -1) + 1`,
			args: []any{int64(ChunkSize)},
			report: func(id, size, n int64) string {
				return fmt.Sprintf("body %d: %d bytes, but its chunks hold %d or are not in order", id, size, n)
			}},
		{q: `SELECT mb.id, mb.uidnext, max(m.uid) FROM mailboxes mb JOIN messages m ON m.mailbox_id = mb.id
			GROUP BY mb.id HAVING mb.uidnext <= max(m.uid)`,
			report: func(id, next, max int64) string {
				return fmt.Sprintf("mailbox %d: UIDNEXT %d is not above its highest UID %d", id, next, max)
			}},
		{q: `SELECT user_id, used, n FROM (SELECT qu.user_id, qu.used, (SELECT coalesce(sum(m.size), 0)
				FROM mailboxes mb JOIN messages m ON m.mailbox_id = mb.id WHERE mb.user_id = qu.user_id)::bigint AS n FROM quotas qu) x
			WHERE used != n`,
			report: func(id, used, n int64) string {
				return fmt.Sprintf("account %d: quota usage %d, but its messages take %d", id, used, n)
			}},
		{q: `SELECT q.id, 0, 0 FROM queue q WHERE NOT EXISTS (SELECT 1 FROM queue_rcpts r WHERE r.queue_id = q.id)`,
			report: func(id, _, _ int64) string { return fmt.Sprintf("spool entry without recipients: %d", id) }},
	}
	for _, c := range checks {
		rows, err := tx.Query(ctx, c.q, c.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var a, b, n int64
			if err := rows.Scan(&a, &b, &n); err != nil {
				rows.Close()
				return nil, err
			}
			probs = append(probs, c.report(a, b, n))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return probs, nil
}
