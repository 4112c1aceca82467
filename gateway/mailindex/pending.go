package mailindex

import (
	"context"
	"math"
	"slices"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// coverKey names a mailbox and its UIDVALIDITY: a mailbox id the store gives again after a
// delete starts its UIDs again, and what was known of the old one does not hold.
type coverKey struct {
	mailboxID   int64
	uidValidity uint32
}

// maxCovered bounds the mailboxes Unindexed remembers.
const maxCovered = 1 << 16

// Unindexed returns the bodies of a mailbox's messages that the index does not cover yet, in
// ascending order. A search reads their text itself (Texts) and asks the index about the
// rest: every message committed before the call whose body is not in the result is in the
// index.
//
// A message's search text stays until the message goes, and new messages get higher UIDs, so
// once every message up to a UID was found indexed that stays true: the Indexer remembers
// that UID per mailbox and looks only at the messages above it. A search in an indexed
// mailbox then costs no walk over the mailbox's messages.
func (ix *Indexer) Unindexed(ctx context.Context, mailboxID int64, uidValidity uint32) ([]int64, error) {
	key := coverKey{mailboxID, uidValidity}
	ix.covMu.Lock()
	from := ix.covered[key]
	ix.covMu.Unlock()
	ids, last, err := ix.store.UnindexedSince(ctx, mailboxID, from, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 && last > from {
		ix.covMu.Lock()
		if len(ix.covered) >= maxCovered {
			clear(ix.covered)
		}
		ix.covered[key] = max(ix.covered[key], last)
		ix.covMu.Unlock()
	}
	slices.Sort(ids)
	return ids, nil
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
