package mailindex

import (
	"context"
	"math"
	"slices"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Unindexed returns the bodies of a mailbox's messages that the index does not cover yet, in
// ascending order. A search reads their text itself (Texts) and asks the index about the
// rest: every message committed before the call whose body is not in the result is in the
// index.
func (ix *Indexer) Unindexed(ctx context.Context, mailboxID int64) ([]int64, error) {
	ids, err := ix.store.UnindexedBodies(ctx, mailboxID, math.MaxInt32)
	slices.Sort(ids)
	return ids, err
}

// Texts calls fn with the search text of each of the given bodies, read from the message now,
// in the order given; bodies deleted meanwhile are skipped. Nothing is kept and nothing is
// indexed: a scan of any size holds one message's text at a time, and leaves the index to
// the background.
func (ix *Indexer) Texts(ctx context.Context, ids []int64, fn func(mailstore.SearchText) error) error {
	for _, id := range ids {
		st, err := ix.extract(ctx, id)
		if err == mailstore.ErrNotFound {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return nil
}
