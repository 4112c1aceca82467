package mimeutil

import (
	"bytes"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimelimit"
)

// parseTree finds the multipart descendants of top with the scanner behind Scan, in one pass
// over its bytes whatever the nesting, message/rfc822 bodies not followed. The tree is the
// one SplitMultipart gives level by level: a delimiter belongs to the outermost open
// multipart with that boundary and ends the multiparts inside that one, the line break
// before a delimiter line belongs to the delimiter, and the last part of a multipart that
// ends without its close delimiter loses the line breaks at its end.
func parseTree(top *Entity) {
	r := newScanner(bytes.NewReader(top.Raw), min(len(top.Raw)+1, 16<<10), false)
	tree := r.entity(0, "text/plain")
	if r.partsExceeded {
		top.partsErr = mimelimit.ErrExceeded
		return
	}
	setParts(top, tree, top.Raw)
}

// setParts gives e, the multipart entity that p describes in b, its parts.
func setParts(e *Entity, p *Part, b []byte) {
	switch {
	case p.exceeded:
		e.partsErr = mimelimit.ErrExceeded
		return
	case len(p.Parts) == 0: // no boundary, no delimiter, or a header that never ended
		e.partsErr = ErrMalformed
		return
	}
	e.parts = make([]*Entity, len(p.Parts))
	for i, c := range p.Parts {
		end := c.End
		if p.unclosed && i == len(p.Parts)-1 {
			for end > c.HeaderStart && (b[end-1] == '\n' || b[end-1] == '\r') {
				end--
			}
		}
		ce := fill(&Entity{}, b[c.HeaderStart:end])
		if strings.HasPrefix(ce.MediaType, "multipart/") {
			setParts(ce, c, b)
		}
		e.parts[i] = ce
	}
}

// fill sets the fields of e from its bytes (parts excepted).
func fill(e *Entity, raw []byte) *Entity {
	rh, body := SplitEntity(raw)
	h := ParseHeader(rh)
	mt, params := h.ContentType()
	e.Raw, e.RawHeader, e.Header, e.Body, e.MediaType, e.Params = raw, rh, h, body, mt, params
	return e
}
