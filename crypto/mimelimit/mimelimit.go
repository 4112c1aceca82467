// Package mimelimit holds the bounds on MIME structure that every parser in Sealgate applies,
// and Check, which tells in one pass whether a message stays within them.
//
// RFC 2045 and RFC 2046 set no limit on how deep multipart entities nest or how many parts a
// message has, and a parser that follows the structure wherever it goes can be made to spend
// time and memory without end (10,000 nested multiparts are 600 KB). Sealgate takes
// Dovecot's limits (message_max_nested_mime_parts = 100, message_max_mime_parts = 10,000),
// which no real message reaches:
//
//   - MaxDepth: an entity is at most 100 levels below the message (each multipart and each
//     message/rfc822 is a level);
//   - MaxParts: a message has at most 10,000 entities below it.
//
// A message beyond them is refused on receipt (SMTP); one already stored is served as a
// single part rather than parsed (IMAP, POP3, web mail); the crypto packages stop
// descending at them.
//
// Check reads its input once and in time linear in its length, whatever the nesting: every
// line is compared against the open boundaries with one map lookup, where a parser that
// splits each level on its own scans the inner levels again for each level above them.
// The package is pure (no I/O beyond the reader).
package mimelimit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
)

// The structure bounds (see the package doc).
const (
	MaxDepth = 100
	MaxParts = 10000
)

// ErrExceeded is a structure beyond MaxDepth or MaxParts.
var ErrExceeded = errors.New("mimelimit: MIME structure exceeds the depth or part limits")

// maxField bounds the Content-Type value Check keeps of a header; a longer one is cut (a
// boundary is at most 70 characters).
const maxField = 8 << 10

// Check reads a message and reports whether its structure stays within MaxDepth and
// MaxParts: nil, ErrExceeded, or the reader's error. It follows the structure
// the way mail clients and go-message do: multipart bodies split on their boundaries (a
// delimiter of an enclosing multipart ends the inner ones), message/rfc822 bodies parsed as
// messages.
func Check(r io.Reader) error {
	c := &checker{br: bufio.NewReaderSize(r, 16<<10), active: Boundaries{}}
	return c.run()
}

type frame struct {
	boundary string
	depth    int // of the multipart entity
}

type checker struct {
	br     *bufio.Reader
	stack  []frame
	active Boundaries
	parts  int
	// The entity whose header is being read: its depth, and the fields kept of it.
	inHeader bool
	depth    int
	field    string // "content-type" while that field is being read
	ctype    strings.Builder
}

func (c *checker) run() error {
	c.inHeader, c.depth = true, 0
	cont := false // the line is the rest of a line longer than the buffer
	for {
		line, err := c.br.ReadSlice('\n')
		full := err == bufio.ErrBufferFull
		if full {
			err = nil
		}
		switch {
		case cont:
			c.keep(line)
		case len(line) > 0:
			if e := c.line(line); e != nil {
				return e
			}
		}
		cont = full
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !c.inHeader && len(c.stack) == 0 {
			return nil // the rest is a leaf body or an epilogue
		}
	}
}

func (c *checker) line(line []byte) error {
	if len(line) >= 2 && line[0] == '-' && line[1] == '-' && len(c.active) > 0 {
		if i, closing, ok := c.active.Match(line); ok {
			return c.delimiter(i, closing)
		}
	}
	if !c.inHeader {
		return nil
	}
	if len(bytes.TrimRight(line, "\r\n")) == 0 {
		return c.headerEnd()
	}
	if line[0] == ' ' || line[0] == '\t' {
		c.keep(line)
		return nil
	}
	c.field = ""
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return nil
	}
	switch n := strings.ToLower(string(bytes.TrimSpace(name))); n {
	case "content-type":
		c.field = n
		c.keep(value)
	}
	return nil
}

func (c *checker) keep(b []byte) {
	if c.field == "" {
		return
	}
	b = bytes.TrimRight(b, "\r\n")
	if room := maxField - c.ctype.Len(); room > 0 {
		c.ctype.Write(b[:min(len(b), room)])
	}
}

// delimiter ends the multiparts inside frame i, and the part of frame i being read; a close
// delimiter ends frame i too, otherwise a new part begins.
func (c *checker) delimiter(i int, closing bool) error {
	for len(c.stack) > i+1 {
		c.pop()
	}
	c.inHeader = false
	if closing {
		c.pop()
		return nil
	}
	return c.begin(c.stack[i].depth + 1)
}

// begin starts an entity at depth d: its header comes next.
func (c *checker) begin(d int) error {
	c.parts++
	if d > MaxDepth || c.parts > MaxParts {
		return ErrExceeded
	}
	c.inHeader, c.depth, c.field = true, d, ""
	c.ctype.Reset()
	return nil
}

func (c *checker) pop() {
	f := c.stack[len(c.stack)-1]
	c.active.Close(f.boundary, len(c.stack)-1)
	c.stack = c.stack[:len(c.stack)-1]
}

// headerEnd looks at the header just read: a multipart opens a frame, a message/rfc822
// starts the embedded message's header.
func (c *checker) headerEnd() error {
	c.inHeader, c.field = false, ""
	ct := strings.TrimSpace(c.ctype.String())
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		params = map[string]string{}
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		b := strings.TrimRight(params["boundary"], " \t")
		if b == "" {
			return nil
		}
		c.active.Open(b, len(c.stack))
		c.stack = append(c.stack, frame{boundary: b, depth: c.depth})
	case mt == "message/rfc822" || mt == "message/global":
		// Whatever its transfer encoding (RFC 2046 §5.2.1 allows none): IMAP's BODYSTRUCTURE
		// (go-imap) reads the body as it is stored, and so does this.
		return c.begin(c.depth + 1)
	}
	return nil
}
