package imapserver

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/sealgate/sealgate/crypto/mimelimit"
)

// mimePart is one entity of a message as FETCH sees it (RFC 9051 §6.4.5): where its header
// and body lie in the message, and what its header says. The whole tree is found in one
// pass over the message that keeps only headers and offsets, so BODYSTRUCTURE and sections
// of a large message cost no more memory than those of a small one.
type mimePart struct {
	headerStart, bodyStart, end int64
	header                      textproto.Header
	rawHeader                   []byte
	typ, subtype                string
	params                      map[string]string
	lines                       int64
	children                    []*mimePart // multipart parts
	message                     *mimePart   // the message inside a message/rfc822 part
}

// maxPartHeader bounds the header kept per entity; a longer one ends where the bound is.
const maxPartHeader = 256 << 10

// lineReader reads lines and keeps the offset of each, with one line of look-back.
type lineReader struct {
	br     *bufio.Reader
	off    int64
	peeked []byte
	pOff   int64
	err    error
	parts  int
	// eol and prevEOL are the lengths of the line ends of the last line returned and of
	// the one before it: the line end before a delimiter belongs to the delimiter.
	eol, prevEOL int
}

func eolLen(line []byte) int {
	switch {
	case bytes.HasSuffix(line, []byte("\r\n")):
		return 2
	case bytes.HasSuffix(line, []byte("\n")):
		return 1
	}
	return 0
}

// cut is where an entity ends that a delimiter line at off ends.
func (r *lineReader) cut(off, start int64) int64 {
	return max(off-int64(r.prevEOL), start)
}

// next returns the next line with its line end, and its offset.
func (r *lineReader) next() ([]byte, int64, bool) {
	if r.peeked != nil {
		l, o := r.peeked, r.pOff
		r.peeked = nil
		r.prevEOL, r.eol = r.eol, eolLen(l)
		return l, o, true
	}
	if r.err != nil {
		return nil, r.off, false
	}
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A long line: its tail comes as further "lines", which is right for every use
		// here (boundaries and header ends are short lines).
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
	l := line
	o := r.off
	r.off += int64(len(l))
	r.prevEOL, r.eol = r.eol, eolLen(l)
	return l, o, true
}

// unread puts back the line just read.
func (r *lineReader) unread(line []byte, off int64) {
	r.peeked, r.pOff = line, off
	r.eol = r.prevEOL
}

// parseMIME reads a message into its entity tree.
func parseMIME(rd io.Reader) *mimePart {
	r := &lineReader{br: bufio.NewReaderSize(rd, 16<<10)}
	p := r.entity(nil, 0, "text/plain")
	return p
}

// boundaryLine reports whether line is a delimiter of one of the open multiparts, and
// whether it closes that multipart.
func boundaryLine(line []byte, bounds []string) (idx int, closing, ok bool) {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	rest := bytes.TrimRight(line[2:], " \t\r\n")
	for i := len(bounds) - 1; i >= 0; i-- {
		b := bounds[i]
		if bytes.Equal(rest, []byte(b)) {
			return i, false, true
		}
		if bytes.Equal(rest, []byte(b+"--")) {
			return i, true, true
		}
	}
	return 0, false, false
}

// entity reads one entity up to (not including) a delimiter line of an open multipart or
// the end of input. defType is the type when none is given (message/rfc822 in a
// multipart/digest).
func (r *lineReader) entity(bounds []string, depth int, defType string) *mimePart {
	p := &mimePart{}
	r.parts++
	var head bytes.Buffer
	first := true
	for {
		line, off, ok := r.next()
		if first {
			p.headerStart = off
			first = false
		}
		if !ok {
			p.bodyStart = r.off
			break
		}
		if _, _, isB := boundaryLine(line, bounds); isB {
			r.unread(line, off)
			p.bodyStart = off
			break
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			p.bodyStart = off + int64(len(line))
			head.Write(line)
			break
		}
		if head.Len() < maxPartHeader {
			head.Write(line)
		}
	}
	p.rawHeader = head.Bytes()
	p.header, _ = textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(bytes.Clone(p.rawHeader), "\r\n"...))))
	p.typ, p.subtype, p.params = contentType(p.header.Get("Content-Type"), defType)
	deep := depth >= mimelimit.MaxDepth || r.parts >= mimelimit.MaxParts
	switch {
	case p.typ == "multipart" && p.params["boundary"] != "" && !deep:
		r.multipart(p, bounds, depth)
	case p.typ == "message" && (p.subtype == "rfc822" || p.subtype == "global") && !deep && !encoded(p.header):
		p.message = r.entity(bounds, depth+1, "text/plain")
		p.end = p.message.end
		p.lines = p.message.lines + countLines(p.message.rawHeader)
	default:
		r.leaf(p, bounds)
	}
	return p
}

// encoded reports a Content-Transfer-Encoding that hides an entity's structure.
func encoded(h textproto.Header) bool {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	return cte == "base64" || cte == "quoted-printable"
}

// leaf reads a body up to a delimiter of an open multipart: the line end before the
// delimiter belongs to the delimiter.
func (r *lineReader) leaf(p *mimePart, bounds []string) {
	var lines int64
	for {
		line, off, ok := r.next()
		if !ok {
			p.end = r.off
			break
		}
		if _, _, isB := boundaryLine(line, bounds); isB {
			p.end = r.cut(off, p.bodyStart)
			if r.prevEOL > 0 && off > p.bodyStart {
				lines--
			}
			r.unread(line, off)
			break
		}
		if r.eol > 0 {
			lines++
		}
	}
	if p.end < p.bodyStart {
		p.end = p.bodyStart
	}
	p.lines = max(lines, 0)
}

func (r *lineReader) multipart(p *mimePart, bounds []string, depth int) {
	b := p.params["boundary"]
	inner := append(append([]string(nil), bounds...), b)
	childType := "text/plain"
	if p.subtype == "digest" {
		childType = "message/rfc822"
	}
	// Preamble: up to the first delimiter of this multipart.
	for {
		line, off, ok := r.next()
		if !ok {
			p.end = r.off
			return
		}
		if idx, closing, isB := boundaryLine(line, inner); isB {
			if idx != len(inner)-1 {
				p.end = r.cut(off, p.bodyStart) // an outer delimiter: this multipart is cut short
				r.unread(line, off)
				return
			}
			if closing {
				p.end = r.off
				r.epilogue(p, bounds)
				return
			}
			break
		}
	}
	for {
		child := r.entity(inner, depth+1, childType)
		p.children = append(p.children, child)
		line, off, ok := r.next()
		if !ok {
			p.end = r.off
			return
		}
		idx, closing, _ := boundaryLine(line, inner)
		if idx != len(inner)-1 {
			p.end = r.cut(off, p.bodyStart)
			r.unread(line, off)
			return
		}
		if closing {
			p.end = off + int64(len(line))
			r.epilogue(p, bounds)
			return
		}
	}
}

// epilogue skips what follows a multipart's closing delimiter, up to an outer delimiter.
func (r *lineReader) epilogue(p *mimePart, bounds []string) {
	for {
		line, off, ok := r.next()
		if !ok {
			p.end = r.off
			return
		}
		if _, _, isB := boundaryLine(line, bounds); isB {
			p.end = r.cut(off, p.bodyStart)
			r.unread(line, off)
			return
		}
		p.end = off + int64(len(line))
	}
}

func countLines(b []byte) int64 { return int64(bytes.Count(b, []byte("\n"))) }

// contentType parses a Content-Type value; a missing or broken one is defType (RFC 2045 §5.2).
func contentType(v, defType string) (typ, subtype string, params map[string]string) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil && mt == "" || !strings.Contains(mt, "/") {
		mt, params = defType, nil
		if defType == "text/plain" {
			params = map[string]string{"charset": "us-ascii"}
		}
	}
	typ, subtype, _ = strings.Cut(strings.ToLower(mt), "/")
	if params == nil {
		params = map[string]string{}
	}
	return typ, subtype, params
}

// find returns the entity a section part number names (RFC 9051 §6.4.5): in a message
// that is not multipart, part 1 is its body; a part that is a message/rfc822 stands for
// the message inside it when numbered further.
func (p *mimePart) find(part []int) *mimePart {
	cur := p
	for i, n := range part {
		if i > 0 && cur.message != nil {
			cur = cur.message
		}
		switch {
		case cur.typ == "multipart" && len(cur.children) > 0:
			if n < 1 || n > len(cur.children) {
				return nil
			}
			cur = cur.children[n-1]
		case n == 1:
			// A non-multipart entity's part 1 is itself.
		default:
			return nil
		}
	}
	return cur
}
