package imapserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

func wholeMessage(sec *imap.FetchItemBodySection) bool {
	return sec.Specifier == imap.PartSpecifierNone && len(sec.Part) == 0
}

func headerOnly(sec *imap.FetchItemBodySection) bool {
	return sec.Specifier == imap.PartSpecifierHeader && len(sec.Part) == 0
}

// Fetch answers FETCH a chunk of messages at a time (fetchChunk): while one chunk is written
// to the client, the store reads the next one and, within a chunk, the next batch of small
// bodies. A FETCH of a whole large mailbox thus starts answering at once, keeps the
// connection busy, and holds at most two chunks in memory.
func (s *session) Fetch(numSet imap.NumSet, f *imapwire.Fetch) error {
	options := &f.Options
	v := s.sel
	pos := v.resolve(numSet)
	if len(pos) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	defer s.cork()()
	headerSection, setSeen := false, false
	for _, sec := range options.BodySection {
		headerSection = headerSection || headerOnly(sec)
		setSeen = setSeen || !sec.Peek
	}
	for _, sec := range options.BinarySection {
		setSeen = setSeen || !sec.Peek
	}
	needBody := options.BodyStructure != nil || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for _, sec := range options.BodySection {
		needBody = needBody || !headerOnly(sec)
	}
	fromView := flagsOnly(options) && s.viewCurrent(ctx)
	read := func(part []int) chan *fetchChunk {
		uids := make([]uint32, len(part))
		for i, p := range part {
			uids[i] = v.msgs.uid(p)
		}
		ch := make(chan *fetchChunk, 1)
		if fromView {
			ch <- v.viewChunk(uids)
			return ch
		}
		go func() { ch <- s.readChunk(ctx, v.mb.ID, uids, options.Envelope, headerSection, needBody) }()
		return ch
	}
	next := read(pos[:min(fetchChunkSize, len(pos))])
	var dec envelopeDecoder
	for start := 0; start < len(pos); start += fetchChunkSize {
		part := pos[start:min(start+fetchChunkSize, len(pos))]
		c := <-next
		if c.err != nil {
			return s.fail(c.err)
		}
		if end := start + fetchChunkSize; end < len(pos) {
			next = read(pos[end:min(end+fetchChunkSize, len(pos))])
		}
		err := s.writeChunk(ctx, part, c, &dec, f, setSeen)
		if c.bodies != nil {
			c.bodies.stop()
		}
		if err != nil {
			return err
		}
		// A FETCH of one chunk that sets no flag has read the mailbox's state no earlier than
		// the poll would: the poll takes it (a change after the read is the next poll's).
		if len(pos) <= fetchChunkSize && !(setSeen && !v.readOnly) && c.modseq != 0 {
			s.readModSeq = c.modseq
		}
	}
	return nil
}

// fetchChunkSize is how many messages Fetch reads from the store at a time.
const fetchChunkSize = 1000

// fetchChunk is what Fetch reads from the store for a run of messages.
type fetchChunk struct {
	byUID  map[uint32]*mailstore.Message // expunged messages are missing
	envs   []mailstore.Envelope          // stored envelopes, in UID order
	modseq uint64                        // the mailbox's HIGHESTMODSEQ read with them, or 0
	raws   map[uint32][]byte             // raw header sections, when needed
	bodies *bodyLoader                   // small bodies, when needed
	err    error
}

// readChunk reads the messages with these UIDs (ascending) and what the FETCH needs of them.
func (s *session) readChunk(ctx context.Context, mailboxID int64, uids []uint32, envelope, headerSection, needBody bool) *fetchChunk {
	st := s.srv.opts.Store
	lo, hi := uids[0], uids[len(uids)-1]
	c := &fetchChunk{}
	var list []mailstore.Message
	if envelope {
		list, c.envs, c.modseq, c.err = st.MessagesWithEnvelopes(ctx, mailboxID, lo, hi)
	} else {
		list, c.err = st.MessagesInRange(ctx, mailboxID, lo, hi)
	}
	if c.err != nil {
		return c
	}
	c.byUID = make(map[uint32]*mailstore.Message, len(list))
	for i := range list {
		c.byUID[list[i].UID] = &list[i]
	}
	// Messages not indexed yet have no stored envelope: their headers are parsed.
	if headerSection || envelope && len(c.envs) < len(list) {
		if c.raws, c.err = st.RawHeaders(ctx, mailboxID, lo, hi); c.err != nil {
			return c
		}
	}
	if needBody {
		ms := make([]*mailstore.Message, len(uids))
		for i, uid := range uids {
			ms[i] = c.byUID[uid]
		}
		c.bodies = newBodyLoader(ctx, st, ms)
	}
	return c
}

// writeChunk sets \Seen where the FETCH does and writes the responses for the messages at
// positions part.
func (s *session) writeChunk(ctx context.Context, part []int, c *fetchChunk, dec *envelopeDecoder, f *imapwire.Fetch, setSeen bool) error {
	options := &f.Options
	v := s.sel
	seenNow := map[uint32]bool{}
	if setSeen && !v.readOnly {
		var unseen []uint32
		for _, p := range part {
			if m := c.byUID[v.msgs.uid(p)]; m != nil && m.Flags&mailstore.FlagSeen == 0 && !unchangedSince(m, options) {
				unseen = append(unseen, m.UID)
			}
		}
		if len(unseen) > 0 {
			res, err := s.srv.opts.Store.UpdateFlags(ctx, v.mb.ID, unseen, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen})
			if err != nil {
				return s.fail(err)
			}
			for _, m := range res {
				if bm := c.byUID[m.UID]; bm != nil {
					bm.Flags, bm.Keywords, bm.ModSeq = m.Flags, m.Keywords, m.ModSeq
				}
				seenNow[m.UID] = true
			}
			s.changed()
		}
	}
	envs := c.envs
	msg := new(message) // one for the chunk, reset per message: a flags resync allocates none
	for i, p := range part {
		m := c.byUID[v.msgs.uid(p)]
		if m == nil {
			continue // expunged by another session; the client learns it at the next chance
		}
		if unchangedSince(m, options) {
			continue
		}
		it := fetchItem{m: m, raw: c.raws[m.UID], seen: seenNow[m.UID]}
		if options.Envelope {
			for len(envs) > 0 && envs[0].UID < m.UID {
				envs = envs[1:]
			}
			if len(envs) > 0 && envs[0].UID == m.UID {
				it.env = dec.wire(envs[0].Data) // nil when malformed: parsed again
			}
		}
		if c.bodies != nil {
			var err error
			if it.body, err = c.bodies.body(i); err != nil {
				return s.fail(err)
			}
		}
		*msg = message{s: s, m: m, data: it.body}
		if needsBody(it, options) {
			// The body is read (or opened) before the response starts: another session
			// may have expunged the message since the chunk was read, and then it is
			// skipped whole like one already gone, rather than failing half-written.
			if err := msg.open(); errors.Is(err, mailstore.ErrNotFound) {
				continue
			} else if err != nil {
				return s.fail(err)
			}
		}
		if options.Flags || it.seen {
			if err := s.announce(m.Keywords); err != nil {
				msg.close()
				return err
			}
		}
		err := s.fetchOne(uint32(p+1), msg, it, f)
		msg.close()
		if err != nil {
			return err
		}
		if options.Flags || seenNow[m.UID] {
			v.msgs.set(p, m.Flags, m.Keywords)
		}
	}
	return nil
}

// Bounds of one batch of bodies read ahead by Fetch.
const (
	batchMessages = 256
	batchBytes    = 4 << 20
)

// bodyLoader reads the small bodies of a run of messages a batch at a time, one query per
// batch instead of one per message, and reads the next batch while the current one is
// written to the client.
type bodyLoader struct {
	ctx     context.Context
	cancel  context.CancelFunc
	st      Store
	ms      []*mailstore.Message
	batches [][]int64
	batchOf []int // per message: its batch, or -1 (no inline body)
	cur     int
	bodies  map[int64][]byte
	next    chan bodyBatch // the batch after cur, being read
}

type bodyBatch struct {
	bodies map[int64][]byte
	err    error
}

// newBodyLoader splits the inline bodies of ms (nil entries are expunged messages) into
// batches and starts reading the first.
func newBodyLoader(ctx context.Context, st Store, ms []*mailstore.Message) *bodyLoader {
	ctx, cancel := context.WithCancel(ctx)
	l := &bodyLoader{ctx: ctx, cancel: cancel, st: st, ms: ms, batchOf: make([]int, len(ms)), cur: -1}
	var ids []int64
	var size int64
	for i, m := range ms {
		l.batchOf[i] = -1
		if m == nil || m.Size > mailstore.InlineLimit {
			continue
		}
		if len(ids) == batchMessages || len(ids) > 0 && size+m.Size > batchBytes {
			l.batches = append(l.batches, ids)
			ids, size = nil, 0
		}
		ids = append(ids, m.BodyID)
		size += m.Size
		l.batchOf[i] = len(l.batches)
	}
	if len(ids) > 0 {
		l.batches = append(l.batches, ids)
	}
	if len(l.batches) > 0 {
		l.next = l.read(0)
	}
	return l
}

func (l *bodyLoader) read(b int) chan bodyBatch {
	ch := make(chan bodyBatch, 1)
	go func() {
		bodies, err := l.st.InlineBodies(l.ctx, l.batches[b])
		ch <- bodyBatch{bodies, err}
	}()
	return ch
}

// body returns the inline body of message i (nil when it is stored as a file or was
// removed), moving on to its batch if needed.
func (l *bodyLoader) body(i int) ([]byte, error) {
	b := l.batchOf[i]
	if b < 0 {
		return nil, nil
	}
	for l.cur < b {
		r := <-l.next
		if r.err != nil {
			return nil, r.err
		}
		l.cur++
		l.bodies = r.bodies
		l.next = nil
		if l.cur+1 < len(l.batches) {
			l.next = l.read(l.cur + 1)
		}
	}
	return l.bodies[l.ms[i].BodyID], nil
}

// stop ends a read still under way; its goroutine finishes on its own.
func (l *bodyLoader) stop() { l.cancel() }

// message is one message's body, read at most once per FETCH.
type message struct {
	s      *session
	m      *mailstore.Message
	data   []byte
	file   io.ReaderAt // a large body kept in a file, held open while the response is written
	rc     io.Closer   // closes file
	large  bool        // a large body read again from the store for each section
	cancel context.CancelFunc
	ctx    context.Context
	flat   *bool // served as one part (limits.go); nil: not checked yet
	// mime is the entity tree, parsed at the first need; mimeSrc reads the bytes it
	// refers to.
	mime    *mimeutil.Part
	mimeSrc io.ReaderAt
}

// needsBody reports whether the response for it reads the message's body from the store.
func needsBody(it fetchItem, options *imap.FetchOptions) bool {
	if it.body != nil {
		return false
	}
	if options.BodyStructure != nil || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0 {
		return true
	}
	if options.Envelope && it.env == nil && it.raw == nil {
		return true
	}
	for _, sec := range options.BodySection {
		if !headerOnly(sec) || it.raw == nil {
			return true
		}
	}
	return false
}

// open reads a small body into memory and opens a large one, checking that it is still
// there. A body removed with its message (the store deletes it once no message refers to
// it) is mailstore.ErrNotFound.
func (msg *message) open() error {
	if msg.data != nil || msg.file != nil || msg.large {
		return nil
	}
	rc, err := msg.openStored()
	if err != nil {
		return err
	}
	if msg.m.Size > mailstore.InlineLimit {
		if ra, ok := rc.(io.ReaderAt); ok {
			msg.file, msg.rc = ra, rc // unlinked or not, an open file stays readable
			return nil
		}
		rc.Close()
		msg.large = true
		return nil
	}
	defer rc.Close()
	msg.data, err = io.ReadAll(rc)
	return err
}

// openStored opens the body in the store; the reader lives until close.
func (msg *message) openStored() (io.ReadCloser, error) {
	if msg.ctx == nil {
		msg.ctx, msg.cancel = msg.s.ctx()
	}
	rc, _, err := msg.s.srv.opts.Store.OpenBody(msg.ctx, msg.m.BodyID)
	if errors.Is(err, fs.ErrNotExist) {
		// Either the body went with its message between the lookup and the open, and a
		// second lookup finds nothing, or the file is lost: an error of the server.
		if _, _, again := msg.s.srv.opts.Store.OpenBody(msg.ctx, msg.m.BodyID); errors.Is(again, mailstore.ErrNotFound) {
			err = again
		}
	}
	return rc, err
}

func (msg *message) close() {
	if msg.rc != nil {
		msg.rc.Close()
	}
	if msg.cancel != nil {
		msg.cancel()
	}
}

func (msg *message) reader() (io.ReadCloser, error) {
	if err := msg.open(); err != nil {
		return nil, err
	}
	switch {
	case msg.file != nil:
		return io.NopCloser(io.NewSectionReader(msg.file, 0, msg.m.Size)), nil
	case msg.large:
		return msg.openStored() // streamed again for each section rather than held
	}
	return io.NopCloser(bytes.NewReader(msg.data)), nil
}

// fetchItem is what Fetch has read ahead for one message.
type fetchItem struct {
	m    *mailstore.Message
	raw  []byte // raw header section; nil: read from the body when needed
	body []byte // inline body; nil: read from the store when needed
	env  []byte // stored envelope as it goes on the wire; nil: parsed from the header
	seen bool   // \Seen was set by this FETCH
}

func (s *session) fetchOne(seq uint32, msg *message, it fetchItem, f *imapwire.Fetch) error {
	options := &f.Options
	m, raw := it.m, it.raw
	rw := s.fetchResp(seq)
	rw.item("UID").Number(m.UID)
	if options.Flags || it.seen {
		writeFlags(rw.item("FLAGS"), s.sel.flags(m.UID, m.Flags, m.Keywords))
	}
	if options.ModSeq || it.seen && s.condstore {
		rw.item("MODSEQ").Raw("(").Number64(m.ModSeq).Raw(")")
	}
	if options.InternalDate {
		rw.item("INTERNALDATE").String(internalDate(m.InternalDate))
	}
	if options.RFC822Size {
		rw.item("RFC822.SIZE").Number64(uint64(m.Size))
	}
	header := func() ([]byte, error) {
		if raw != nil {
			return raw, nil
		}
		rc, err := msg.reader()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return mailindex.ReadRawHeader(bufio.NewReader(rc))
	}
	if options.Envelope {
		env := it.env
		if env == nil {
			h, err := header()
			if err != nil {
				return s.abortFetch(&rw, err)
			}
			env = EncodeEnvelope(h)
		}
		rw.item("ENVELOPE").Raw(string(env))
	}
	if bs := options.BodyStructure; bs != nil {
		tree, _, err := msg.tree()
		if err != nil {
			return s.abortFetch(&rw, err)
		}
		name := "BODY"
		if bs.Extended {
			name = "BODYSTRUCTURE"
		}
		writeBodyStructure(rw.item(name), bodyStructure(tree, bs.Extended), bs.Extended)
	}
	for _, sec := range options.BodySection {
		if err := s.writeSection(&rw, msg, sec, f.Labels[sec], header); err != nil {
			return err
		}
	}
	for _, sec := range options.BinarySection {
		buf, err := msg.binary(sec.Part)
		if err != nil {
			return s.abortFetch(&rw, err)
		}
		name := "BINARY[" + imapwire.PartName(sec.Part) + "]"
		if p := sec.Partial; p != nil {
			name += "<" + uitoa(uint64(p.Offset)) + ">"
		}
		rw.item(name).Literal8(partial(buf, sec.Partial))
	}
	for _, sec := range options.BinarySectionSize {
		buf, err := msg.binary(sec.Part)
		if err != nil {
			return s.abortFetch(&rw, err)
		}
		rw.item("BINARY.SIZE[" + imapwire.PartName(sec.Part) + "]").Number(uint32(len(buf)))
	}
	return rw.end()
}

// binary returns a part with its transfer encoding undone (BINARY, RFC 3516).
func (msg *message) binary(part []int) ([]byte, error) {
	tree, src, err := msg.tree()
	if err != nil {
		return nil, err
	}
	buf, _, err := binaryBytes(tree, src, part)
	return buf, err
}

// sectionItem names a body section's data item in the response: BODY[…]<origin>, or the
// RFC822 form the client asked with.
func sectionItem(sec *imap.FetchItemBodySection, label string) string {
	if label != "" {
		return label
	}
	name := "BODY[" + imapwire.SectionName(sec) + "]"
	if p := sec.Partial; p != nil {
		name += "<" + uitoa(uint64(p.Offset)) + ">"
	}
	return name
}

func (s *session) writeSection(rw *fetchResp, msg *message, sec *imap.FetchItemBodySection, label string, header func() ([]byte, error)) error {
	if wholeMessage(sec) {
		// Streamed from the store as it is, whatever its size.
		start, n := int64(0), msg.m.Size
		if p := sec.Partial; p != nil {
			start = min(p.Offset, msg.m.Size)
			n = min(msg.m.Size-start, p.Size)
		}
		rc, err := msg.reader()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		defer rc.Close()
		if _, err := io.CopyN(io.Discard, rc, start); err != nil {
			return s.abortFetch(rw, err)
		}
		rw.item(sectionItem(sec, label)).LiteralFrom(rc, n, false)
		return s.enc.Err()
	}
	var buf []byte
	if headerOnly(sec) {
		h, err := header()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		switch {
		case len(sec.HeaderFields) > 0:
			h = filterHeader(h, sec.HeaderFields, true)
		case len(sec.HeaderFieldsNot) > 0:
			h = filterHeader(h, sec.HeaderFieldsNot, false)
		}
		buf = h
	} else {
		tree, src, err := msg.tree()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		if buf, _, err = sectionBytes(tree, src, sec); err != nil {
			return s.abortFetch(rw, err)
		}
	}
	rw.item(sectionItem(sec, label)).Literal(partial(buf, sec.Partial))
	return s.enc.Err()
}

// partial cuts a section to the range a client asked for (<offset.size>).
func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	start := min(p.Offset, int64(len(b)))
	return b[start:min(int64(len(b)), start+p.Size)]
}

// abortFetch ends a FETCH response that cannot be completed (its start is already on the
// wire) and answers the command with the generic error.
func (s *session) abortFetch(rw *fetchResp, err error) error {
	rw.end()
	return s.fail(err)
}
