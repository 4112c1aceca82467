package pgstore

import (
	"context"
	"time"
)

// schemaV2 adds the failed-login counts of auth.Throttle, shared by every node: a key
// (network, network and account, or account), its count, and the Unix time of its last
// failure. A count whose last failure is a window old starts over.
const schemaV2 = `
CREATE TABLE login_failures (
	key   text PRIMARY KEY,
	count integer NOT NULL,
	last  bigint NOT NULL
);
CREATE INDEX login_failures_last ON login_failures (last);
`

// AddLoginFailure counts a failed login under each key (auth.FailureStore). It also drops counts older than a window,
// so the table holds only what is being counted.
func (s *Store) AddLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) ([]int, error) {
	t, w := now.Unix(), int64(window/time.Second)
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE last <= $1::bigint - $2::bigint`, t, w); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO login_failures AS f (key, count, last)
		SELECT k, 1, $2::bigint FROM unnest($1::text[]) AS k
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN f.last > $2::bigint - $3::bigint THEN f.count + 1 ELSE 1 END,
			last = GREATEST(f.last, $2::bigint)
		RETURNING key, count`, keys, t, w)
	if err != nil {
		return nil, err
	}
	return countsOf(rows, keys)
}

// LoginFailures returns the failed-login count under each key (auth.FailureStore).
func (s *Store) LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) ([]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, count FROM login_failures WHERE key = ANY($1) AND last > $2::bigint - $3::bigint`,
		keys, now.Unix(), int64(window/time.Second))
	if err != nil {
		return nil, err
	}
	return countsOf(rows, keys)
}

// ClearLoginFailures forgets the failed-login count under key (auth.FailureStore).
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key)
	return err
}

// countsOf reads (key, count) rows into counts in the order of keys; a key without a row
// counts 0.
func countsOf(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}, keys []string) ([]int, error) {
	defer rows.Close()
	byKey := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		byKey[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out, nil
}
