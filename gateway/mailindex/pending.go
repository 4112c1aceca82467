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

// Texts calls fn with the search text of each of the given bodies, the parts of it that want
// selects (the envelope never), read from the message now, in no particular order; bodies
// deleted meanwhile are skipped. Nothing is kept and nothing is indexed: a scan of any size
// holds a batch of messages at a time, and leaves the index to the background.
func (ix *Indexer) Texts(ctx context.Context, ids []int64, want Parts, fn func(mailstore.SearchText) error) error {
	return ix.texts(ctx, ids, nil, want, fn)
}

// texts reads the search texts of bodies (with envelope(raw header) when envelope is not
// nil), textBatch at a time: the bodies kept inside the database in one query, the others
// opened one by one. The next batch is read while this one is extracted, so the database's
// time (a round trip and more on PostgreSQL) overlaps the parsing. Up to textWorkers
// goroutines extract them; fn is called by one at a time.
func (ix *Indexer) texts(ctx context.Context, ids []int64, envelope func([]byte) []byte, want Parts, fn func(mailstore.SearchText) error) error {
	type batch struct {
		ids    []int64
		inline map[int64][]byte
		err    error
	}
	readNext := func() chan batch {
		if len(ids) == 0 {
			return nil
		}
		b := batch{ids: ids[:min(len(ids), textBatch)]}
		ids = ids[len(b.ids):]
		ch := make(chan batch, 1)
		go func() {
			b.inline, b.err = ix.store.InlineBodies(ctx, b.ids)
			ch <- b
		}()
		return ch
	}
	for next := readNext(); next != nil; {
		b := <-next
		if b.err != nil {
			return b.err
		}
		next = readNext()
		if err := ix.extractAll(ctx, b.ids, b.inline, envelope, want, fn); err != nil {
			return err
		}
	}
	return nil
}

// extractAll is one batch of texts; inline holds the bodies of ids that were read already.
func (ix *Indexer) extractAll(ctx context.Context, ids []int64, inline map[int64][]byte, envelope func([]byte) []byte,
	want Parts, fn func(mailstore.SearchText) error) error {
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
				st, err := ix.extract(ctx, ids[i], inline[ids[i]], envelope, want)
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

// textBatch is how many bodies texts reads in one query: a few hundred kilobytes of small
// messages, and one round trip instead of one per message.
const textBatch = 128

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
