package mimeutil

import (
	"io"

	"github.com/sealgate/sealgate/crypto/mimelimit"
)

// Leaves reads a message as Scan does, in one pass and holding one line at a time, but does
// not follow message/rfc822 bodies (an embedded message is a leaf), and calls fn with each leaf
// entity as it is reached and a reader of its body as the message holds it (transfer-encoded,
// without the line break that belongs to a delimiter after it). fn may read as much of the
// body as it needs; the rest is skipped when it returns, and the reader must not be used
// afterwards. A read error ends the message where it occurred, as in Scan.
func Leaves(rd io.Reader, fn func(p *Part, body io.Reader)) *Part {
	br := GetReader(rd)
	defer PutReader(br)
	r := &scanner{br: br, active: mimelimit.Boundaries{}, body: fn}
	return r.entity(0, "text/plain")
}

// leafBody reads the lines of a leaf's body up to a delimiter of an open multipart or the end
// of input, counting them; as an io.Reader it gives their bytes.
type leafBody struct {
	r     *scanner
	p     *Part
	lines int64
	end   int64 // where the body ends, once done
	done  bool
	// rest is what Read has not given yet of the current line, without its line end; held is
	// the length of that line end, kept back until the next line shows that no delimiter (to
	// which it would belong) follows; eol is a line end given before rest.
	rest, eol []byte
	held      int
}

// line reads the next line of the body into rest; false at its end.
func (lb *leafBody) line() bool {
	if lb.done {
		return false
	}
	r := lb.r
	line, off, ok := r.next()
	if !ok {
		lb.end, lb.done = r.off, true
		return false
	}
	if _, _, isB := r.delimiter(line); isB {
		lb.end, lb.done = r.cut(off, lb.p.BodyStart), true
		if r.prevEOL > 0 && off > lb.p.BodyStart {
			lb.lines--
		}
		r.unread(line, off)
		return false
	}
	if r.eol > 0 {
		lb.lines++
	}
	lb.rest = line
	return true
}

func (lb *leafBody) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		switch {
		case len(lb.eol) > 0:
			c := copy(b[n:], lb.eol)
			n, lb.eol = n+c, lb.eol[c:]
			continue
		case len(lb.rest) > 0:
			c := copy(b[n:], lb.rest)
			n, lb.rest = n+c, lb.rest[c:]
			continue
		case lb.done:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		prev := lb.held
		if lb.line() {
			lb.held = eolLen(lb.rest)
			lb.rest = lb.rest[:len(lb.rest)-lb.held]
		} else if lb.r.peeked != nil {
			prev = 0 // the line end before a delimiter is the delimiter's
		}
		lb.eol = crlf[2-prev:]
	}
	return n, nil
}
