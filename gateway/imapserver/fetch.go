package imapserver

import (
	"bufio"
	"bytes"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

func wholeMessage(sec *imap.FetchItemBodySection) bool {
	return sec.Specifier == imap.PartSpecifierNone && len(sec.Part) == 0
}

func headerOnly(sec *imap.FetchItemBodySection) bool {
	return sec.Specifier == imap.PartSpecifierHeader && len(sec.Part) == 0
}

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	v := s.sel
	pos := v.resolve(numSet)
	if len(pos) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	defer s.cork()()
	st := s.srv.opts.Store
	lo, hi := v.msgs[pos[0]].uid, v.msgs[pos[len(pos)-1]].uid
	var list []mailstore.Message
	var envs []mailstore.Envelope
	var err error
	if options.Envelope {
		list, envs, err = st.MessagesWithEnvelopes(ctx, v.mb.ID, lo, hi)
	} else {
		list, err = st.MessagesInRange(ctx, v.mb.ID, lo, hi)
	}
	if err != nil {
		return s.fail(err)
	}
	byUID := make(map[uint32]*mailstore.Message, len(list))
	for i := range list {
		byUID[list[i].UID] = &list[i]
	}
	// Messages not indexed yet have no stored envelope: their headers are parsed.
	needHeader := options.Envelope && len(envs) < len(list)
	setSeen := false
	for _, sec := range options.BodySection {
		needHeader = needHeader || headerOnly(sec)
		setSeen = setSeen || !sec.Peek
	}
	for _, sec := range options.BinarySection {
		setSeen = setSeen || !sec.Peek
	}
	var raws map[uint32][]byte
	if needHeader {
		if raws, err = st.RawHeaders(ctx, v.mb.ID, lo, hi); err != nil {
			return s.fail(err)
		}
	}
	seenNow := map[uint32]bool{}
	if setSeen && !v.readOnly {
		var unseen []uint32
		for _, p := range pos {
			if m := byUID[v.msgs[p].uid]; m != nil && m.Flags&mailstore.FlagSeen == 0 {
				unseen = append(unseen, m.UID)
			}
		}
		if len(unseen) > 0 {
			res, err := st.UpdateFlags(ctx, v.mb.ID, unseen, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen})
			if err != nil {
				return s.fail(err)
			}
			for _, m := range res {
				if bm := byUID[m.UID]; bm != nil {
					bm.Flags, bm.Keywords = m.Flags, m.Keywords
				}
				seenNow[m.UID] = true
			}
			s.changed()
		}
	}
	needBody := options.BodyStructure != nil || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for _, sec := range options.BodySection {
		needBody = needBody || !headerOnly(sec)
	}
	var bodies map[int64][]byte
	var dec envelopeDecoder
	for i, p := range pos {
		m := byUID[v.msgs[p].uid]
		if m == nil {
			continue // expunged by another session; the client learns it at the next chance
		}
		it := fetchItem{m: m, raw: raws[m.UID], seen: seenNow[m.UID]}
		if options.Envelope {
			// envs is in UID order, as pos is.
			for len(envs) > 0 && envs[0].UID < m.UID {
				envs = envs[1:]
			}
			if len(envs) > 0 && envs[0].UID == m.UID {
				it.env, _ = dec.decode(envs[0].Data) // nil when malformed: parsed again
			}
		}
		if needBody && m.Size <= mailstore.InlineLimit && bodies[m.BodyID] == nil {
			// Small bodies are read a batch at a time, not with a query per message.
			if bodies, err = st.InlineBodies(ctx, s.nextBodies(pos[i:], byUID)); err != nil {
				return s.fail(err)
			}
		}
		it.body = bodies[m.BodyID]
		if err := s.fetchOne(w.CreateMessage(uint32(p+1)), it, options); err != nil {
			return err
		}
		if options.Flags || seenNow[m.UID] {
			v.msgs[p].flags, v.msgs[p].kw = m.Flags, m.Keywords
		}
	}
	return nil
}

// Bounds of one batch of bodies read ahead by Fetch.
const (
	batchMessages = 256
	batchBytes    = 4 << 20
)

// nextBodies lists the ids of the inline bodies of the next messages of pos, up to a batch.
func (s *session) nextBodies(pos []int, byUID map[uint32]*mailstore.Message) []int64 {
	var ids []int64
	var size int64
	for _, p := range pos {
		m := byUID[s.sel.msgs[p].uid]
		if m == nil || m.Size > mailstore.InlineLimit {
			continue
		}
		if len(ids) == batchMessages || len(ids) > 0 && size+m.Size > batchBytes {
			break
		}
		ids = append(ids, m.BodyID)
		size += m.Size
	}
	return ids
}

// message is one message's body, read at most once per FETCH.
type message struct {
	s    *session
	m    *mailstore.Message
	data []byte
}

func (msg *message) reader() (io.ReadCloser, error) {
	if msg.data != nil {
		return io.NopCloser(bytes.NewReader(msg.data)), nil
	}
	ctx, cancel := msg.s.ctx()
	defer cancel()
	rc, _, err := msg.s.srv.opts.Store.OpenBody(ctx, msg.m.BodyID)
	if err != nil {
		return nil, err
	}
	if msg.m.Size > mailstore.InlineLimit {
		return rc, nil // large: stream it again each time rather than hold it
	}
	defer rc.Close()
	if msg.data, err = io.ReadAll(rc); err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(msg.data)), nil
}

// fetchItem is what Fetch has read ahead for one message.
type fetchItem struct {
	m    *mailstore.Message
	raw  []byte         // raw header section; nil: read from the body when needed
	body []byte         // inline body; nil: read from the store when needed
	env  *imap.Envelope // stored envelope; nil: parsed from the header
	seen bool           // \Seen was set by this FETCH
}

func (s *session) fetchOne(rw *imapserver.FetchResponseWriter, it fetchItem, options *imap.FetchOptions) error {
	m, raw := it.m, it.raw
	msg := &message{s: s, m: m, data: it.body}
	rw.WriteUID(imap.UID(m.UID))
	if options.Flags || it.seen {
		rw.WriteFlags(imapFlags(m.Flags, m.Keywords))
	}
	if options.InternalDate {
		rw.WriteInternalDate(m.InternalDate)
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(m.Size)
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
		return readRawHeader(bufio.NewReader(rc))
	}
	if options.Envelope {
		env := it.env
		if env == nil {
			h, err := header()
			if err != nil {
				return s.abortFetch(rw, err)
			}
			env = parseEnvelope(h)
		}
		rw.WriteEnvelope(env)
	}
	if options.BodyStructure != nil {
		rc, err := msg.reader()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		bs := imapserver.ExtractBodyStructure(rc)
		rc.Close()
		rw.WriteBodyStructure(bs)
	}
	for _, sec := range options.BodySection {
		if err := s.writeSection(rw, msg, sec, header); err != nil {
			return err
		}
	}
	for _, sec := range options.BinarySection {
		rc, err := msg.reader()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		buf := imapserver.ExtractBinarySection(rc, sec)
		rc.Close()
		if err := writeLiteral(rw.WriteBinarySection(sec, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, sec := range options.BinarySectionSize {
		rc, err := msg.reader()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		n := imapserver.ExtractBinarySectionSize(rc, sec)
		rc.Close()
		rw.WriteBinarySectionSize(sec, n)
	}
	return rw.Close()
}

func (s *session) writeSection(rw *imapserver.FetchResponseWriter, msg *message, sec *imap.FetchItemBodySection, header func() ([]byte, error)) error {
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
		lw := rw.WriteBodySection(sec, n)
		if _, err := io.CopyN(lw, rc, n); err != nil {
			lw.Close()
			return err
		}
		return lw.Close()
	}
	var src io.Reader
	if headerOnly(sec) {
		h, err := header()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		src = bytes.NewReader(h)
	} else {
		rc, err := msg.reader()
		if err != nil {
			return s.abortFetch(rw, err)
		}
		defer rc.Close()
		src = rc
	}
	buf := imapserver.ExtractBodySection(src, sec)
	return writeLiteral(rw.WriteBodySection(sec, int64(len(buf))), buf)
}

func writeLiteral(w io.WriteCloser, buf []byte) error {
	_, err := w.Write(buf)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// abortFetch ends a FETCH response that cannot be completed (its start is already on the
// wire) and answers the command with the generic error.
func (s *session) abortFetch(rw *imapserver.FetchResponseWriter, err error) error {
	rw.Close()
	return s.fail(err)
}
