package mailindex

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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

// Texts calls fn with the search text of each of the given bodies (without envelope), read
// from the message now, in no particular order; bodies deleted meanwhile are skipped. The
// texts are read by up to textWorkers goroutines and fn is called by one at a time. Nothing
// is kept and nothing is indexed: a scan of any size holds a few messages' text at a time,
// and leaves the index to the background.
func (ix *Indexer) Texts(ctx context.Context, ids []int64, fn func(mailstore.SearchText) error) error {
	var (
		mu   sync.Mutex
		next atomic.Int64
		fail error
		wg   sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), textWorkers, len(ids)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				st, err := ix.extract(ctx, ids[i], nil)
				mu.Lock()
				if fail == nil && err != mailstore.ErrNotFound {
					if fail = err; err == nil {
						fail = fn(st)
					}
				}
				stop := fail != nil
				mu.Unlock()
				if stop {
					return
				}
			}
		})
	}
	wg.Wait()
	return fail
}

// textWorkers bounds the goroutines of one Texts call.
const textWorkers = 4

// While a search reads pending texts (Scanning), the background loop waits, scanYield at a time
// and at most maxScanYield per round of batches: both would read and parse the same new
// messages for the CPU, and the search is what a client waits for. The bound keeps a client
// that searches without pause from holding the index back for good.
const (
	scanYield    = 50 * time.Millisecond
	maxScanYield = 5 * time.Second
)

// Scanning tells the background loop that a search reads pending texts itself (Texts),
// until the returned function is called.
func (ix *Indexer) Scanning() (done func()) {
	ix.scans.Add(1)
	var once sync.Once
	return func() { once.Do(func() { ix.scans.Add(-1) }) }
}

// waitForScans waits while searches read pending texts, up to maxScanYield; it reports false
// when ctx ends.
func (ix *Indexer) waitForScans(ctx context.Context) bool {
	for waited := time.Duration(0); ix.scans.Load() > 0 && waited < maxScanYield; waited += scanYield {
		if !sleep(ctx, scanYield) {
			return false
		}
	}
	return true
}
