package mimeutil

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimelimit"
)

// Part is one entity of a message as Scan finds it: where its header and body lie in the
// message, and what its header says. It keeps no body bytes, so that the structure of a
// large message costs no more memory than that of a small one; the bytes are read from the
// message by offset (IMAP's BODYSTRUCTURE, BODY[section] and BINARY, RFC 9051 §6.4.5).
type Part struct {
	// HeaderStart, BodyStart and End are offsets in the message: the header section is
	// [HeaderStart, BodyStart), the body [BodyStart, End).
	HeaderStart, BodyStart, End int64
	// RawHeader is the header section with the empty line that ends it (when it has one),
	// cut at MaxPartHeader bytes.
	RawHeader []byte
	Header    Header
	// Type and Subtype are lower-cased; a missing or unusable Content-Type is the default of
	// the context: text/plain; charset=us-ascii, or message/rfc822 in a multipart/digest
	// (RFC 2045 §5.2, RFC 2046 §5.1.5).
	Type, Subtype string
	Params        map[string]string
	Lines         int64   // lines of the body (of a leaf; of the embedded message for message/rfc822)
	Parts         []*Part // of a multipart
	Message       *Part   // the message inside a message/rfc822 or message/global part

	// For ParseEntity: a multipart not followed for mimelimit's bounds, and one that ended
	// before its close delimiter.
	exceeded, unclosed bool
}

// MaxPartHeader bounds the header Scan keeps per entity; a longer one is cut there.
const MaxPartHeader = 256 << 10

// Scan reads a message into its entity tree in one pass, keeping headers and offsets only.
// It follows multiparts and message/rfc822 (or message/global) bodies that are not base64 or
// quoted-printable encoded, as mail readers do, down to mimelimit.MaxDepth levels and
// mimelimit.MaxParts entities: beyond them an entity is a leaf. A delimiter line belongs to
// the outermost open multipart with its boundary and ends every multipart inside that one;
// the line end before a delimiter belongs to the delimiter. A read error ends the message
// where it occurred.
func Scan(rd io.Reader) *Part {
	return newScanner(rd, 16<<10, true).entity(0, "text/plain")
}

// newScanner reads rd with a buffer of size bytes (a line longer than that is read in pieces),
// following message/rfc822 bodies when messages is set.
func newScanner(rd io.Reader, size int, messages bool) *scanner {
	return &scanner{br: bufio.NewReaderSize(rd, size), active: mimelimit.Boundaries{}, messages: messages}
}

// Find returns the entity a section part number names (RFC 9051 §6.4.5): in a message that
// is not multipart, part 1 is its body; a part that is a message/rfc822 stands for the
// message inside it when numbered further. Nil when there is no such part.
func (p *Part) Find(part []int) *Part {
	cur := p
	for i, n := range part {
		if i > 0 && cur.Message != nil {
			cur = cur.Message
		}
		switch {
		case cur.Type == "multipart" && len(cur.Parts) > 0:
			if n < 1 || n > len(cur.Parts) {
				return nil
			}
			cur = cur.Parts[n-1]
		case n == 1:
			// A non-multipart entity's part 1 is itself.
		default:
			return nil
		}
	}
	return cur
}

// scanner reads lines and keeps the offset of each, with one line of look-back.
type scanner struct {
	br     *bufio.Reader
	off    int64
	peeked []byte
	pOff   int64
	err    error
	parts  int // entities below the top one
	active mimelimit.Boundaries
	open   int // multiparts open
	// messages: follow message/rfc822 bodies; partsExceeded: mimelimit.MaxParts was reached.
	messages, partsExceeded bool
	// tail: the line last returned is the rest of a line longer than the buffer (pTail: of
	// the line put back), which is neither a delimiter nor an empty line; cont: the next
	// read continues such a line.
	tail, pTail, cont bool
	// eol and prevEOL are the lengths of the line ends of the last line returned and of
	// the one before it: the line end before a delimiter belongs to the delimiter.
	eol, prevEOL int
	// body, when set, is given each leaf as it is reached (Leaves).
	body func(p *Part, body io.Reader)
}

func eolLen(line []byte) int {
	switch {
	case bytes.HasSuffix(line, crlf):
		return 2
	case len(line) > 0 && line[len(line)-1] == '\n':
		return 1
	}
	return 0
}

// cut is where an entity ends that a delimiter line at off ends.
func (r *scanner) cut(off, start int64) int64 {
	return max(off-int64(r.prevEOL), start)
}

// next returns the next line with its line end, and its offset.
func (r *scanner) next() ([]byte, int64, bool) {
	if r.peeked != nil {
		l, o := r.peeked, r.pOff
		r.peeked = nil
		r.prevEOL, r.eol, r.tail = r.eol, eolLen(l), r.pTail
		return l, o, true
	}
	if r.err != nil {
		return nil, r.off, false
	}
	line, err := r.br.ReadSlice('\n')
	r.tail, r.cont = r.cont, err == bufio.ErrBufferFull
	if r.cont {
		// A long line: its rest comes as further "lines", marked as such.
		err = nil
	}
	if err != nil {
		r.err = err
		if len(line) == 0 {
			return nil, r.off, false
		}
	}
	// Not copied: a line is used before the next read, and an unread line is returned
	// again before any read can overwrite the buffer under it.
	o := r.off
	r.off += int64(len(line))
	r.prevEOL, r.eol = r.eol, eolLen(line)
	return line, o, true
}

// unread puts back the line just read.
func (r *scanner) unread(line []byte, off int64) {
	r.peeked, r.pOff, r.pTail = line, off, r.tail
	r.eol = r.prevEOL
}

// delimiter reports whether line is a delimiter of an open multipart: the index of that
// multipart, and whether the line closes it.
func (r *scanner) delimiter(line []byte) (idx int, closing, ok bool) {
	if r.open == 0 || r.tail || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	return r.active.Match(line)
}

// entity reads one entity up to (not including) a delimiter line of an open multipart or
// the end of input. defType is the type when none is given.
func (r *scanner) entity(depth int, defType string) *Part {
	p := &Part{}
	var head bytes.Buffer
	first := true
	for {
		line, off, ok := r.next()
		if first {
			p.HeaderStart = off
			first = false
		}
		if !ok {
			p.BodyStart = r.off
			break
		}
		if _, _, isB := r.delimiter(line); isB {
			// The entity ends in its header, before the line break of the delimiter.
			p.BodyStart = r.cut(off, p.HeaderStart)
			r.unread(line, off)
			break
		}
		if !r.tail && len(bytes.TrimRight(line, "\r\n")) == 0 {
			p.BodyStart = off + int64(len(line))
			head.Write(line)
			break
		}
		if head.Len() < MaxPartHeader {
			head.Write(line)
		}
	}
	p.RawHeader = head.Bytes()
	h, _ := SplitEntity(p.RawHeader)
	p.Header = ParseHeader(h)
	p.Type, p.Subtype, p.Params = partType(p.Header.Get("Content-Type"), defType)
	deep := depth >= mimelimit.MaxDepth || r.parts >= mimelimit.MaxParts
	multipart := p.Type == "multipart" && p.Params["boundary"] != ""
	switch {
	case multipart && !deep:
		r.multipart(p, depth)
	case multipart:
		p.exceeded = true
		r.partsExceeded = r.partsExceeded || r.parts >= mimelimit.MaxParts
		r.leaf(p)
	case r.messages && p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global") && !deep && !encoded(p.Header):
		r.parts++
		p.Message = r.entity(depth+1, "text/plain")
		p.End = p.Message.End
		p.Lines = p.Message.Lines + int64(bytes.Count(p.Message.RawHeader, []byte("\n")))
	default:
		r.leaf(p)
	}
	return p
}

// partType reads a Content-Type value; a missing one, or one without a type/subtype, is
// defType.
func partType(v, defType string) (typ, subtype string, params map[string]string) {
	mt, params := "", map[string]string(nil)
	if strings.TrimSpace(v) != "" {
		mt, params = ParseContentType(v)
	}
	if !strings.Contains(mt, "/") {
		mt, params = defType, map[string]string{}
		if defType == "text/plain" {
			params["charset"] = "us-ascii"
		}
	}
	typ, subtype, _ = strings.Cut(strings.ToLower(mt), "/")
	return typ, subtype, params
}

// encoded reports a Content-Transfer-Encoding that hides an entity's structure.
func encoded(h Header) bool {
	cte := strings.ToLower(h.Get("Content-Transfer-Encoding"))
	return cte == "base64" || cte == "quoted-printable"
}

// leaf reads a body up to a delimiter of an open multipart, giving it to the scanner's body
// function first when it has one (Leaves).
func (r *scanner) leaf(p *Part) {
	lb := &leafBody{r: r, p: p}
	if r.body != nil {
		r.body(p, lb)
	}
	for lb.line() {
	}
	p.End = max(lb.end, p.BodyStart)
	p.Lines = max(lb.lines, 0)
}

// multipart reads the preamble, parts and epilogue of a multipart. A delimiter of an
// enclosing multipart ends it; at mimelimit.MaxParts its remaining parts are skipped.
func (r *scanner) multipart(p *Part, depth int) {
	b, own := p.Params["boundary"], r.open
	r.active.Open(b, own)
	r.open++
	defer func() {
		r.open--
		r.active.Close(b, own)
	}()
	childType := "text/plain"
	if p.Subtype == "digest" {
		childType = "message/rfc822"
	}
	inParts := false // a delimiter of this multipart was seen
	for {
		if inParts {
			if r.parts >= mimelimit.MaxParts {
				p.exceeded, r.partsExceeded = true, true
				r.skip(p, own-1)
				return
			}
			r.parts++
			p.Parts = append(p.Parts, r.entity(depth+1, childType))
		}
		line, off, ok := r.next()
		if !ok {
			p.End, p.unclosed = r.off, inParts
			return
		}
		idx, closing, isB := r.delimiter(line)
		switch {
		case !isB:
			continue // preamble
		case idx != own:
			p.End = r.cut(off, p.BodyStart) // an outer delimiter: this multipart is cut short
			p.unclosed = inParts
			r.unread(line, off)
			return
		case closing:
			p.End = off + int64(len(line))
			r.skip(p, own-1)
			return
		}
		inParts = true
	}
}

// skip reads up to a delimiter of a multipart at index outer or further out (the epilogue
// after a closing delimiter, or the parts beyond mimelimit.MaxParts); p ends there.
func (r *scanner) skip(p *Part, outer int) {
	for {
		line, off, ok := r.next()
		if !ok {
			p.End = r.off
			return
		}
		if idx, _, isB := r.delimiter(line); isB && idx <= outer {
			p.End = r.cut(off, p.BodyStart)
			r.unread(line, off)
			return
		}
		p.End = off + int64(len(line))
	}
}
