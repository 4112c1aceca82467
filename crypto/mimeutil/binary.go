package mimeutil

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimelimit"
)

// Binary parts (RFC 3516): a message appended with a literal8 may carry parts in the binary
// transfer encoding, NUL bytes and all, which a client without BINARY cannot be given as they
// are (RFC 9051 forbids NUL in a literal). RFC 3516 §4.3 lets a server store such an upload in
// another encoding; Sealgate, like Dovecot, stores each such part in base64, so that BODY[]
// is valid for every client while BINARY[] still gives back the original bytes.
//
// BinaryParts finds the parts, EncodeParts rewrites them. Both read the message once, line by
// line, holding at most one header section (MaxHeaderSize) and one line; they follow the MIME
// structure as mimelimit does (a delimiter of an enclosing multipart ends the inner ones) and
// stop at its bounds: what lies beyond MaxDepth or MaxParts is passed through as it is.

// BinaryParts reads a message and returns the leaf entities that must be re-encoded before a
// client without BINARY can be served them: those whose Content-Transfer-Encoding is binary,
// and those of an identity encoding (none, 7bit, 8bit) whose body holds a NUL byte. Entities
// are numbered in the order their headers begin, the message itself being 0; the list is in
// ascending order, and nil when there is nothing to re-encode. Only r's error is returned.
func BinaryParts(r io.Reader) ([]int, error) {
	br := GetReader(r)
	defer PutReader(br)
	w := &binaryWalker{br: br, active: mimelimit.Boundaries{}, scan: true}
	for !w.done {
		w.step()
		w.out = w.out[:0]
	}
	if w.err != io.EOF {
		return nil, w.err
	}
	return w.found, nil
}

// EncodeParts returns a reader of the message r with the leaf entities listed in parts
// (numbered as BinaryParts numbers them, ascending) re-encoded in base64: their
// Content-Transfer-Encoding fields are replaced by "base64" and their bodies encoded in lines
// of 76 characters. Every other byte is kept as it was. An entity that is not a leaf is left
// alone.
func EncodeParts(r io.Reader, parts []int) io.Reader {
	return &binaryWalker{br: bufio.NewReaderSize(r, 64<<10), active: mimelimit.Boundaries{}, encode: parts}
}

type walkState int

const (
	inHeader  walkState = iota // reading an entity's header section into header
	inLeaf                     // a leaf body kept as it is
	inEncoded                  // a leaf body being encoded
	inOther                    // a preamble, an epilogue, or the rest past the bounds
)

type binaryFrame struct {
	boundary string
	depth    int
}

type binaryWalker struct {
	br     *bufio.Reader
	stack  []binaryFrame
	active mimelimit.Boundaries
	state  walkState
	// The entity being read: its number, its depth, its header section so far (nil once
	// it outgrew MaxHeaderSize and was passed through), and whether its body is watched for
	// NUL (scan).
	entity, depth int
	header        []byte
	rawHeader     bool
	watchNUL      bool
	parts         int
	cont          bool // the next chunk continues a line longer than the buffer
	exceeded      bool

	scan   bool
	found  []int
	encode []int // entities still to encode, ascending

	enc  io.WriteCloser // base64 into wrap, while inEncoded
	wrap lineWrapper
	held []byte // the line break after the last line of an encoded body: it may belong to a delimiter
	sep  string // the line break of the entity's header

	out  []byte // produced, not yet read
	off  int
	done bool
	err  error
}

func (w *binaryWalker) Read(p []byte) (int, error) {
	for w.off == len(w.out) {
		if w.done {
			return 0, w.err
		}
		w.out, w.off = w.out[:0], 0
		w.step()
	}
	n := copy(p, w.out[w.off:])
	w.off += n
	return n, nil
}

// step reads one line (or one buffer of a longer line) and produces its output.
func (w *binaryWalker) step() {
	line, err := w.br.ReadSlice('\n')
	cont := w.cont
	w.cont = err == bufio.ErrBufferFull
	if w.cont {
		err = nil
	}
	if len(line) > 0 {
		w.line(line, cont)
	}
	if err != nil {
		w.finish(false)
		w.err, w.done = err, true
	}
}

func (w *binaryWalker) line(line []byte, cont bool) {
	if !cont && !w.exceeded && len(line) >= 2 && line[0] == '-' && line[1] == '-' && len(w.active) > 0 {
		if i, closing, ok := w.active.Match(line); ok {
			w.finish(true)
			w.out = append(w.out, line...)
			w.delimiter(i, closing)
			return
		}
	}
	switch w.state {
	case inHeader:
		if !cont && len(bytes.TrimRight(line, "\r\n")) == 0 {
			w.headerEnd(line)
			return
		}
		if w.rawHeader {
			w.out = append(w.out, line...)
			return
		}
		if len(w.header)+len(line) > MaxHeaderSize {
			w.out = append(w.out, w.header...)
			w.out = append(w.out, line...)
			w.header, w.rawHeader = w.header[:0], true
			return
		}
		w.header = append(w.header, line...)
	case inEncoded:
		w.enc.Write(w.held)
		content := line
		if !w.cont {
			content = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		}
		w.held = append(w.held[:0], line[len(content):]...)
		w.enc.Write(content)
	case inLeaf:
		if w.watchNUL && bytes.IndexByte(line, 0) >= 0 {
			w.found = append(w.found, w.entity)
			w.watchNUL = false
		}
		w.out = append(w.out, line...)
	default:
		w.out = append(w.out, line...)
	}
}

// finish ends the entity being read: its header section, if that is all it has, or its
// encoded body. The line break held back belongs to a delimiter that follows; at the end of
// the message it is the body's last bytes.
func (w *binaryWalker) finish(atDelimiter bool) {
	switch w.state {
	case inHeader:
		w.out = append(w.out, w.header...)
		w.header = w.header[:0]
	case inEncoded:
		if !atDelimiter {
			w.enc.Write(w.held)
			w.held = w.held[:0]
		}
		w.enc.Close()
		w.out = append(w.out, w.held...)
		w.held = w.held[:0]
	}
	w.state, w.watchNUL = inOther, false
}

// delimiter ends the multiparts inside frame i and its part being read; a close delimiter
// ends frame i too, otherwise a new part begins.
func (w *binaryWalker) delimiter(i int, closing bool) {
	for len(w.stack) > i+1 {
		w.pop()
	}
	if closing {
		w.pop()
		return
	}
	w.begin(w.stack[i].depth + 1)
}

func (w *binaryWalker) pop() {
	f := w.stack[len(w.stack)-1]
	w.active.Close(f.boundary, len(w.stack)-1)
	w.stack = w.stack[:len(w.stack)-1]
}

// begin starts an entity at depth d; past the bounds the rest is passed through.
func (w *binaryWalker) begin(d int) {
	w.parts++
	if d > mimelimit.MaxDepth || w.parts > mimelimit.MaxParts {
		w.exceeded, w.state = true, inOther
		return
	}
	w.entity, w.depth, w.state, w.rawHeader = w.parts, d, inHeader, false
}

// headerEnd looks at the header section just read, ended by the blank line: a multipart
// opens a frame, a message/rfc822 in an identity encoding starts the embedded message's
// header, any other entity is a leaf.
func (w *binaryWalker) headerEnd(blank []byte) {
	h := ParseHeader(w.header)
	if w.rawHeader {
		h = Header{} // too large to read: a text/plain leaf, kept as it is
	}
	mt, params := h.ContentType()
	cte := strings.ToLower(h.Get("Content-Transfer-Encoding"))
	identity := cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
	w.state = inLeaf
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		w.state = inOther
		if b := strings.TrimRight(params["boundary"], " \t"); b != "" {
			w.active.Open(b, len(w.stack))
			w.stack = append(w.stack, binaryFrame{boundary: b, depth: w.depth})
		}
	case (mt == "message/rfc822" || mt == "message/global") && identity:
		w.out = append(w.out, w.header...)
		w.out = append(w.out, blank...)
		w.header = w.header[:0]
		w.begin(w.depth + 1)
		return
	case w.scan && cte == "binary":
		w.found = append(w.found, w.entity)
	case w.scan:
		w.watchNUL = identity
	case len(w.encode) > 0 && w.encode[0] == w.entity:
		w.encode = w.encode[1:]
		w.startEncoded(blank)
		return
	}
	for len(w.encode) > 0 && w.encode[0] <= w.entity {
		w.encode = w.encode[1:] // not a leaf: left alone
	}
	w.out = append(w.out, w.header...)
	w.out = append(w.out, blank...)
	w.header = w.header[:0]
}

// startEncoded writes the header section with Content-Transfer-Encoding: base64 in place
// of the fields it had, and starts encoding the body.
func (w *binaryWalker) startEncoded(blank []byte) {
	w.sep = "\r\n"
	if !bytes.HasSuffix(blank, crlf) {
		w.sep = "\n"
	}
	fields, _ := RemoveFields(append(w.header, blank...), func(name, _ []byte) bool {
		return bytes.EqualFold(name, []byte("Content-Transfer-Encoding"))
	})
	w.out = append(w.out, fields[:len(fields)-len(blank)]...)
	w.out = append(w.out, "Content-Transfer-Encoding: base64"...)
	w.out = append(w.out, w.sep...)
	w.out = append(w.out, blank...)
	w.header = w.header[:0]
	w.state, w.held = inEncoded, w.held[:0]
	w.wrap = lineWrapper{w: w}
	w.enc = base64.NewEncoder(base64.StdEncoding, &w.wrap)
}

// lineWrapper appends base64 text to the walker's output in lines of 76 characters (RFC 2045
// §6.8), with no line break after the last one: the break before a delimiter is the
// delimiter's.
type lineWrapper struct {
	w   *binaryWalker
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if l.col == 76 {
			l.w.out = append(l.w.out, l.w.sep...)
			l.col = 0
		}
		k := min(len(p), 76-l.col)
		l.w.out = append(l.w.out, p[:k]...)
		l.col += k
		p = p[k:]
	}
	return n, nil
}
