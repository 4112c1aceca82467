package imapserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"strings"
	"sync"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// maxIndexedText bounds the text indexed per message; a search for words beyond it in a
// larger text part does not find them. Attachments that are not text are never indexed.
const maxIndexedText = 4 << 20

// extractSearchText reads a message once and returns its searchable form: decoded header
// fields as "Name: value" lines, the decoded text of its text parts, and the raw header.
func extractSearchText(r io.Reader) (mailstore.SearchText, error) {
	var st mailstore.SearchText
	br := bufio.NewReader(r)
	raw, err := readRawHeader(br)
	if err != nil {
		return st, err
	}
	// ENVELOPE is parsed here, once, the way FETCH would parse it from the same bytes.
	st.Envelope = encodeEnvelope(parseEnvelope(raw))
	hdr, herr := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if herr != nil {
		// Not a parsable header: index the whole thing as text.
		rest, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(raw), br), maxIndexedText))
		st.Text = string(rest)
		return st, err
	}
	st.RawHeader = raw
	st.Header = headerText(hdr)
	var text strings.Builder
	ent, err := gomessage.New(gomessage.Header{Header: hdr}, br)
	if err == nil || gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err) {
		collectText(ent, &text, 0)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return st, err
	}
	st.Text = text.String()
	return st, nil
}

// maxRawHeader bounds the header section kept for ENVELOPE and header searches.
const maxRawHeader = 1 << 20

// readRawHeader reads the header section up to and including the blank line that ends it.
func readRawHeader(br *bufio.Reader) ([]byte, error) {
	var raw []byte
	for len(raw) < maxRawHeader {
		line, err := br.ReadSlice('\n')
		raw = append(raw, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return raw, nil
		}
		if err != nil {
			return nil, err
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return raw, nil
		}
	}
	return raw, nil
}

func headerText(h textproto.Header) string {
	var b strings.Builder
	dec := mime.WordDecoder{}
	fields := h.Fields()
	for fields.Next() {
		v := fields.Value()
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		v = strings.Join(strings.Fields(v), " ")
		b.WriteString(fields.Key())
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}

func collectText(e *gomessage.Entity, b *strings.Builder, depth int) {
	if depth > 20 {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
				return
			}
			if p == nil {
				return
			}
			collectText(p, b, depth+1)
		}
	}
	t, _, _ := e.Header.ContentType()
	if t == "" {
		t = "text/plain"
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return
	}
	room := maxIndexedText - b.Len()
	if room <= 0 {
		return
	}
	data, _ := io.ReadAll(io.LimitReader(e.Body, int64(room)))
	b.Write(data)
	b.WriteByte('\n')
}

// indexer fills the store's search index in the background for new messages, so searches
// find them indexed. Searches index whatever it has not reached yet themselves.
type indexer struct {
	store    Store
	notifier *Notifier
	log      *slog.Logger
	quit     chan struct{}
	stopOnce sync.Once
	mu       sync.Mutex // one indexing pass at a time per Server
	// after is, per mailbox, the highest UID the background loop has indexed up to (indexNew).
	after map[int64]uint32
}

func newIndexer(st Store, n *Notifier, log *slog.Logger) *indexer {
	return &indexer{store: st, notifier: n, log: log, quit: make(chan struct{}), after: map[int64]uint32{}}
}

func (ix *indexer) stop() { ix.stopOnce.Do(func() { close(ix.quit) }) }

func (ix *indexer) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-ix.quit; cancel() }()
	if err := ix.indexMailbox(ctx, 0); err != nil && ctx.Err() == nil {
		ix.log.Warn("search index: catching up", "err", err)
	}
	if err := ix.addMissingEnvelopes(ctx); err != nil && ctx.Err() == nil {
		ix.log.Warn("search index: envelopes", "err", err)
	}
	for {
		select {
		case <-ix.quit:
			return
		case mb := <-ix.notifier.index:
			pending := map[int64]bool{mb: true}
			if !ix.gather(pending) {
				return
			}
			for mb := range pending {
				if err := ix.indexNew(ctx, mb); err != nil && ctx.Err() == nil {
					ix.log.Warn("search index", "mailbox", mb, "err", err)
				}
			}
		}
	}
}

// The background indexer yields to delivery: it starts once deliveries have paused for
// indexQuiet, or indexMaxDelay after the first message it has not indexed, whichever comes
// first. Indexing beside a stream of deliveries costs several times what it costs after it
// (the index's segment merges compete with the deliveries for the store's single writer and its
// WAL), so during a burst the index may lag by up to indexMaxDelay; a SEARCH indexes whatever
// of its own mailbox the background has not reached yet before it answers.
const (
	indexQuiet = 250 * time.Millisecond
	// indexBatch is how many messages go into the index in one transaction (one FTS5 segment):
	// larger batches hold the store's single writer, and every SMTP session waiting for its
	// group commit, for longer.
	indexBatch    = 256
	indexMaxDelay = 30 * time.Second
)

// gather adds to pending the mailboxes of further deliveries until deliveries pause or the
// delay runs out. It reports false when the indexer is stopped.
func (ix *indexer) gather(pending map[int64]bool) bool {
	quiet := time.NewTimer(indexQuiet)
	defer quiet.Stop()
	limit := time.NewTimer(indexMaxDelay)
	defer limit.Stop()
	for {
		select {
		case mb := <-ix.notifier.index:
			pending[mb] = true
			quiet.Reset(indexQuiet)
		case <-quiet.C:
			return true
		case <-limit.C:
			return true
		case <-ix.quit:
			return false
		}
	}
}

// indexNew indexes the messages of a mailbox above the UID it reached last time: each round of
// an ingest reads only the new messages. What it misses (a mailbox id reused after a delete)
// is left to indexMailbox, which SEARCH runs.
func (ix *indexer) indexNew(ctx context.Context, mailboxID int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for {
		after := ix.after[mailboxID]
		ids, last, err := ix.store.UnindexedSince(ctx, mailboxID, after, indexBatch)
		if err != nil || last == after {
			return err
		}
		texts := make([]mailstore.SearchText, 0, len(ids))
		for _, id := range ids {
			rc, _, err := ix.store.OpenBody(ctx, id)
			if err != nil {
				if err == mailstore.ErrNotFound {
					continue
				}
				return err
			}
			st, err := extractSearchText(rc)
			rc.Close()
			if err != nil {
				return err
			}
			st.BodyID = id
			texts = append(texts, st)
		}
		if len(texts) > 0 {
			if err := ix.store.PutSearchText(ctx, texts); err != nil {
				return err
			}
		}
		ix.after[mailboxID] = last
	}
}

// indexMailbox indexes every message of a mailbox (all mailboxes for 0) without search text.
func (ix *indexer) indexMailbox(ctx context.Context, mailboxID int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return IndexMailbox(ctx, ix.store, mailboxID, 0)
}

// IndexMailbox puts the messages of a mailbox that have no search text yet into the store's
// search index, indexBatch at a time, in the form IMAP SEARCH and FETCH ENVELOPE read: decoded
// header fields, decoded text parts, the raw header and the envelope. maxRounds > 0 stops
// after that many batches (web mail bounds the work of one request); 0 indexes everything.
func IndexMailbox(ctx context.Context, store IndexStore, mailboxID int64, maxRounds int) error {
	for round := 0; maxRounds <= 0 || round < maxRounds; round++ {
		ids, err := store.UnindexedBodies(ctx, mailboxID, indexBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		texts := make([]mailstore.SearchText, 0, len(ids))
		for _, id := range ids {
			rc, _, err := store.OpenBody(ctx, id)
			if err != nil {
				if err == mailstore.ErrNotFound {
					continue
				}
				return err
			}
			st, err := extractSearchText(rc)
			rc.Close()
			if err != nil {
				return err
			}
			st.BodyID = id
			texts = append(texts, st)
		}
		if err := store.PutSearchText(ctx, texts); err != nil {
			return err
		}
		if len(texts) == 0 {
			return nil
		}
	}
	return nil
}

// addMissingEnvelopes stores the envelopes of bodies indexed before envelopes were stored
// (a data directory from an older version), from the raw headers the index already holds.
func (ix *indexer) addMissingEnvelopes(ctx context.Context) error {
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
				raw, err = readRawHeader(bufio.NewReader(rc))
				rc.Close()
				if err != nil {
					return err
				}
			}
			envs = append(envs, mailstore.BodyEnvelope{BodyID: h.BodyID, Data: encodeEnvelope(parseEnvelope(raw))})
		}
		if err := ix.store.PutEnvelopes(ctx, envs); err != nil {
			return err
		}
		if len(envs) == 0 {
			return nil
		}
	}
}
