// Package mailindex keeps the store's full-text search index (mailstore.SearchText: decoded
// header fields, decoded text parts, the raw header and the stored IMAP ENVELOPE) filled for
// every message. One Indexer serves the whole gateway: it is fed by the store's commit hook
// (Delivered) and by the protocols that add messages themselves (Added), runs once, in the
// background, and is used by IMAP SEARCH and web mail alike, so both read one form.
//
// New mail is indexed promptly: the indexer wakes on each committed delivery and indexes the
// new messages of a mailbox in small batches, each one short transaction, pausing between
// batches while deliveries keep arriving so that they go first. During a burst the index may
// still lag behind; a search must see every message, indexed or not, so it reads the index for
// what it covers and scans the rest itself, without waiting for the index: IMAP SEARCH and
// web mail ask which bodies are not indexed (Unindexed) and read their text as they go
// (Texts), only the parts of it their criteria look at (Parts: a BODY search reads no
// header). Indexer and scan read the same way: the bodies of a batch in one query, the
// message parsed in one pass with crypto/mimeutil (Extract), text parts streamed, nothing but
// the text kept.
package mailindex

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Store is what the indexer needs of the mail store. *mailstore.Store and pgstore implement it.
type Store interface {
	mailstore.SearchIndex
}

var _ Store = (*mailstore.Store)(nil)

// Options configure an Indexer.
type Options struct {
	// Envelope returns the stored form of the IMAP ENVELOPE of a raw header section; nil
	// stores none.
	Envelope func(rawHeader []byte) []byte
	Logger   *slog.Logger
}

// ErrRunning is returned by Run when the Indexer runs already.
var ErrRunning = errors.New("mailindex: indexer is running already")

// Indexer fills the store's search index for new messages. Its methods are safe for
// concurrent use.
type Indexer struct {
	store   Store
	opts    Options
	log     *slog.Logger
	added   chan int64 // mailboxes with new messages; senders never block
	running atomic.Bool
	mu      sync.Mutex // one indexing pass at a time
	// after is, per mailbox, the highest UID the background loop has indexed up to (indexNew).
	after map[int64]uint32
	// covered is, per mailbox, a UID up to which every message was found in the index
	// (Unindexed); guarded by covMu.
	covMu   sync.Mutex
	covered map[coverKey]uint32
	// scans counts the searches reading pending texts themselves (Scanning).
	scans atomic.Int32
}

// New returns an Indexer; Run starts its background work.
func New(store Store, opts Options) *Indexer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Indexer{store: store, opts: opts, log: opts.Logger.With("part", "mailindex"),
		added: make(chan int64, 1024), after: map[int64]uint32{}, covered: map[coverKey]uint32{}}
}

// Delivered is a mailstore.Options.OnCommit hook: it tells the indexer of every mailbox that
// received a message. It does not block.
func (ix *Indexer) Delivered(d mailstore.Delivered) {
	for _, m := range d.Messages {
		ix.Added(m.MailboxID)
	}
}

// Added tells the indexer that a mailbox has new messages (APPEND, COPY, a web mail draft).
// It does not block; a notice lost to a full queue is caught up by the next search.
func (ix *Indexer) Added(mailboxID int64) {
	select {
	case ix.added <- mailboxID:
	default:
	}
}

// Run indexes what earlier runs left behind, then new messages as they arrive, until ctx
// ends. It returns ErrRunning when another Run has not returned yet.
func (ix *Indexer) Run(ctx context.Context) error {
	if !ix.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer ix.running.Store(false)
	if err := ix.IndexMailbox(ctx, 0, 0); err != nil && ctx.Err() == nil {
		ix.log.Warn("search index: catching up", "err", err)
	}
	if err := ix.addMissingEnvelopes(ctx); err != nil && ctx.Err() == nil {
		ix.log.Warn("search index: envelopes", "err", err)
	}
	if err := ix.fillSearchFields(ctx); err != nil && ctx.Err() == nil {
		ix.log.Warn("search index: header fields", "err", err)
	}
	pending := map[int64]bool{}
	var cost time.Duration // of the last round of batches
	for {
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case mb := <-ix.added:
				pending[mb] = true
			}
		}
		if ix.drain(pending) && !sleep(ctx, max(indexYield, cost*indexShare)) {
			return nil
		}
		if !ix.waitForScans(ctx) {
			return nil
		}
		t0 := time.Now()
		for mb := range pending {
			done, err := ix.indexNew(ctx, mb)
			if err != nil && ctx.Err() == nil {
				ix.log.Warn("search index", "mailbox", mb, "err", err)
			}
			if done || err != nil {
				delete(pending, mb)
			}
		}
		cost = time.Since(t0)
		if ctx.Err() != nil {
			return nil
		}
	}
}

const (
	// indexBatch is how many messages go into the index in one transaction (one FTS5 segment)
	// when a search or web mail indexes; indexStep is the background's batch. A larger batch
	// holds the store's single writer, and every SMTP session waiting for its group commit,
	// for longer.
	indexBatch = 256
	indexStep  = 64
	// While deliveries keep arriving the indexer pauses before each round of batches, at least
	// indexYield and indexShare times what the last round took, so that it takes at most about
	// a tenth of the store's writer and of the CPU from them (a fifth still slowed a
	// PostgreSQL ingest by a fifth); once they pause it runs without a break. Indexing beside a stream of deliveries costs several times what it
	// costs after it (FTS5's segment merges compete with the deliveries for the single writer
	// and its WAL).
	indexYield = 20 * time.Millisecond
	indexShare = 9
)

// drain adds the mailboxes told of since the last call to pending and reports whether there
// were any (deliveries are arriving).
func (ix *Indexer) drain(pending map[int64]bool) bool {
	busy := false
	for {
		select {
		case mb := <-ix.added:
			pending[mb] = true
			busy = true
		default:
			return busy
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// indexNew indexes one batch of the messages of a mailbox above the UID it reached last time,
// so that each batch of an ingest reads only new messages, and reports whether none are
// left. What it misses (a mailbox id reused after a delete) is left to IndexMailbox.
func (ix *Indexer) indexNew(ctx context.Context, mailboxID int64) (bool, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	after := ix.after[mailboxID]
	ids, last, err := ix.store.UnindexedSince(ctx, mailboxID, after, indexStep)
	if err != nil || last == after {
		return true, err
	}
	if _, err := ix.put(ctx, ids); err != nil {
		return true, err
	}
	ix.after[mailboxID] = last
	return false, nil
}

// IndexMailbox puts the messages of a mailbox (every mailbox for 0) that have no search text
// yet into the index, indexBatch at a time. maxRounds > 0 stops after that many batches (web
// mail bounds the work of one request); 0 indexes everything.
func (ix *Indexer) IndexMailbox(ctx context.Context, mailboxID int64, maxRounds int) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if mailboxID != 0 {
		return ix.indexFrom(ctx, mailboxID, maxRounds)
	}
	for round := 0; maxRounds <= 0 || round < maxRounds; {
		// Each call walks the messages from the start, past every one indexed before: asking
		// for one batch at a time made the catch-up quadratic (a restart with 76,000 of
		// 1,000,000 messages not indexed took 12 minutes).
		ids, err := ix.store.UnindexedBodies(ctx, mailboxID, indexBatch*catchUpBatches)
		if err != nil || len(ids) == 0 {
			return err
		}
		stored := 0
		for len(ids) > 0 && (maxRounds <= 0 || round < maxRounds) {
			part := ids[:min(indexBatch, len(ids))]
			ids = ids[len(part):]
			n, err := ix.put(ctx, part)
			if err != nil {
				return err
			}
			stored += n
			round++
		}
		if stored == 0 {
			return nil // every body found was deleted meanwhile
		}
	}
	return nil
}

// catchUpBatches is how many batches of bodies IndexMailbox looks for in one walk over every
// mailbox's messages.
const catchUpBatches = 64

// indexFrom indexes one mailbox in UID order from its lowest UID, indexBatch messages looked
// at per round. Asking for "the next unindexed bodies" each round instead made every round
// walk past the messages indexed before (quadratic: minutes for a 100,000-message mailbox
// whose newest part the index lacks).
func (ix *Indexer) indexFrom(ctx context.Context, mailboxID int64, maxRounds int) error {
	var after uint32
	for round := 0; maxRounds <= 0 || round < maxRounds; {
		ids, last, err := ix.store.UnindexedSince(ctx, mailboxID, after, indexBatch)
		if err != nil || last == after {
			return err
		}
		after = last
		if len(ids) == 0 {
			continue
		}
		if _, err := ix.put(ctx, ids); err != nil {
			return err
		}
		round++
	}
	return nil
}

// put extracts and stores the search text of bodies and returns how many it stored; bodies
// deleted meanwhile are skipped.
func (ix *Indexer) put(ctx context.Context, ids []int64) (int, error) {
	texts := make([]mailstore.SearchText, 0, len(ids))
	err := ix.texts(ctx, ids, ix.opts.Envelope, AllParts, func(st mailstore.SearchText) error {
		texts = append(texts, st)
		return nil
	})
	if err != nil || len(texts) == 0 {
		return 0, err
	}
	return len(texts), ix.store.PutSearchText(ctx, texts)
}

// extract reads the parts of the search text of one body that want selects, from data when
// it is not nil (the body read already), else from the store; envelope may be nil (see
// Extract).
func (ix *Indexer) extract(ctx context.Context, bodyID int64, data []byte, envelope func([]byte) []byte, want Parts) (mailstore.SearchText, error) {
	var r io.Reader = bytes.NewReader(data)
	if data == nil {
		rc, _, err := ix.store.OpenBody(ctx, bodyID)
		if err != nil {
			return mailstore.SearchText{}, err
		}
		defer rc.Close()
		r = rc
	}
	st, err := extract(r, envelope, want)
	st.BodyID = bodyID
	return st, err
}

// addMissingEnvelopes stores the envelopes of bodies indexed before envelopes were stored
// (a data directory from an older version), from the raw headers the index already holds.
func (ix *Indexer) addMissingEnvelopes(ctx context.Context) error {
	if ix.opts.Envelope == nil {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for {
		hs, err := ix.store.HeadersWithoutEnvelope(ctx, 256)
		if err != nil || len(hs) == 0 {
			return err
		}
		envs := make([]mailstore.BodyEnvelope, 0, len(hs))
		for _, h := range hs {
			raw := h.RawHeader
			if raw == nil {
				// The header did not parse when indexed: FETCH reads it from the body.
				rc, _, err := ix.store.OpenBody(ctx, h.BodyID)
				if err == mailstore.ErrNotFound {
					continue
				}
				if err != nil {
					return err
				}
				raw, err = ReadRawHeader(bufio.NewReader(rc))
				rc.Close()
				if err != nil {
					return err
				}
			}
			envs = append(envs, mailstore.BodyEnvelope{BodyID: h.BodyID, Data: ix.opts.Envelope(raw)})
		}
		if err := ix.store.PutEnvelopes(ctx, envs); err != nil {
			return err
		}
		if len(envs) == 0 {
			return nil
		}
	}
}

// fillSearchFields has the store keep the header fields of bodies indexed before it kept
// them (mailstore.FillSearchFields), a batch per transaction; searches compare those bodies'
// header text meanwhile.
func (ix *Indexer) fillSearchFields(ctx context.Context) error {
	var after int64
	for {
		ix.mu.Lock()
		last, err := ix.store.FillSearchFields(ctx, after, indexBatch)
		ix.mu.Unlock()
		if err != nil || last == after {
			return err
		}
		after = last
	}
}
