package mimeutil

import (
	"bytes"

	"github.com/sealgate/sealgate/crypto/mimelimit"
)

// parseTree finds the multipart descendants of top in one pass over its bytes.
//
// Splitting each multipart on its own (SplitMultipart on the body of each part) scans the
// bytes of a part once for every multipart around it: time grows with the square of the
// nesting depth. Here every line is read once and compared against the boundaries of all
// open multiparts with one map lookup. The tree is the one SplitMultipart gives level by
// level: a delimiter belongs to the outermost open multipart with that boundary, it ends the
// multiparts inside that one (their last part unclosed, trailing line breaks trimmed), and
// the line break before a delimiter line belongs to the delimiter.
func parseTree(top *Entity) {
	b := top.Raw
	p := &treeParser{b: b, active: mimelimit.Boundaries{}}
	p.open(top, 0)
	off := len(b) - len(top.Body)
	for off < len(b) && len(p.stack) > 0 {
		e := off + lineEnd(b[off:])
		line := b[off:e]
		if len(line) >= 2 && line[0] == '-' && line[1] == '-' {
			if i, closing, ok := p.active.Match(line); ok {
				if !p.delimiter(i, closing, off, e) {
					p.exceeded()
					return
				}
				off = e
				continue
			}
		}
		if f := p.stack[len(p.stack)-1]; f.inHeader && len(bytes.TrimRight(line, "\r\n")) == 0 {
			f.inHeader = false
			h := ParseHeader(b[f.start:off])
			f.cur.MediaType, f.cur.Params = h.ContentType()
			p.open(f.cur, f.depth+1)
		}
		off = e
	}
	p.closeFrom(0, len(b))
}

// fill sets the fields of e from its bytes (parts excepted).
func fill(e *Entity, raw []byte) *Entity {
	rh, body := SplitEntity(raw)
	h := ParseHeader(rh)
	mt, params := h.ContentType()
	e.Raw, e.RawHeader, e.Header, e.Body, e.MediaType, e.Params = raw, rh, h, body, mt, params
	return e
}

// treeFrame is an open multipart.
type treeFrame struct {
	e        *Entity
	boundary string
	depth    int     // of e
	cur      *Entity // the part being read; nil in the preamble
	start    int     // offset of cur in b
	inHeader bool    // cur's header has not ended yet
}

type treeParser struct {
	b      []byte
	stack  []*treeFrame
	active mimelimit.Boundaries
	parts  int
}

// open starts reading the parts of e, when it is a multipart within the depth bound.
func (p *treeParser) open(e *Entity, depth int) {
	if len(e.MediaType) < 10 || e.MediaType[:10] != "multipart/" {
		return
	}
	b := e.Params["boundary"]
	switch {
	case b == "":
		e.partsErr = ErrMalformed
		return
	case depth >= mimelimit.MaxDepth:
		e.partsErr = mimelimit.ErrExceeded
		return
	}
	p.active.Open(b, len(p.stack))
	p.stack = append(p.stack, &treeFrame{e: e, boundary: b, depth: depth})
}

// delimiter handles a delimiter line of frame i at b[off:e]. It reports false when a new
// part would exceed mimelimit.MaxParts.
func (p *treeParser) delimiter(i int, closing bool, off, e int) bool {
	f := p.stack[i]
	end := off
	if f.cur != nil && end > f.start && p.b[end-1] == '\n' {
		end--
		if end > f.start && p.b[end-1] == '\r' {
			end--
		}
	}
	p.closeFrom(i+1, end)
	if f.cur != nil {
		fillPart(f, p.b[f.start:end])
	}
	if closing {
		p.closeFrom(i, end)
		return true
	}
	if p.parts >= mimelimit.MaxParts {
		return false
	}
	p.parts++
	f.cur, f.start, f.inHeader = &Entity{}, e, true
	f.e.parts = append(f.e.parts, f.cur)
	return true
}

// fillPart ends the part being read. A multipart whose header never ended has had no frame:
// it has no parts.
func fillPart(f *treeFrame, raw []byte) {
	e := fill(f.cur, raw)
	if e.parts == nil && e.partsErr == nil {
		e.partsErr = ErrMalformed
	}
	f.cur = nil
}

// closeFrom ends the frames from index k on, whose entities end at end: each one's part
// being read is its last, unclosed one, without the line breaks at its end.
func (p *treeParser) closeFrom(k, end int) {
	for j := k; j < len(p.stack); j++ {
		f := p.stack[j]
		if f.cur != nil {
			te := end
			for te > f.start && (p.b[te-1] == '\n' || p.b[te-1] == '\r') {
				te--
			}
			fillPart(f, p.b[f.start:max(te, f.start)])
		}
		if len(f.e.parts) == 0 {
			f.e.partsErr = ErrMalformed
		}
		p.active.Close(f.boundary, j)
	}
	p.stack = p.stack[:min(k, len(p.stack))]
}

// exceeded ends the parse at the part bound: the multiparts still open report it.
func (p *treeParser) exceeded() {
	open := make([]*Entity, len(p.stack))
	for i, f := range p.stack {
		open[i] = f.e
	}
	p.closeFrom(0, len(p.b))
	for _, e := range open {
		e.parts, e.partsErr = nil, mimelimit.ErrExceeded
	}
}
