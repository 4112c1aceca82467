package mailstore

import "context"

// UnindexedSince looks at up to limit messages of a mailbox with a UID above after, in UID
// order, and returns the bodies among them that have no search text yet and the highest UID
// it looked at (after when there is none). The background indexer keeps that UID, so during
// an ingest it reads only new messages instead of the whole mailbox each round.
func (s *Store) UnindexedSince(ctx context.Context, mailboxID int64, after uint32, limit int) ([]int64, uint32, error) {
	rows, err := s.rdb.QueryContext(ctx, unindexedSinceQuery, mailboxID, after, limit)
	if err != nil {
		return nil, after, err
	}
	defer rows.Close()
	return ScanUnindexed(rows, after)
}
