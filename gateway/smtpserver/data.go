package smtpserver

import (
	"bufio"
	"bytes"
	"io"
)

// Where the data reader stands relative to line boundaries (only CRLF ends a line).
const (
	atLineStart = iota // after CRLF, or at the start of the message
	afterCR            // the last byte given out was CR
	inLine
)

var crlfDot = []byte("\r\n.")

// dataReader gives out the message that follows DATA (RFC 5321 §4.5.2): it removes the dot
// that a client adds to every line beginning with ".", and ends at CRLF "." CRLF. A bare LF
// neither ends a line nor the message, so no second message can be smuggled inside the first.
//
// It works on the bytes already in the connection's read buffer: between line starts that
// carry a dot it copies whole runs found with bytes.Index, and it reads more only when the
// buffer is empty or the bytes after a line-start dot are not there yet. The end marker and
// stuffed dots may straddle buffer refills anywhere.
type dataReader struct {
	br *bufio.Reader
	// wait runs before a read that may block: it flushes pending replies and sets the read
	// deadline. nil does nothing.
	wait  func() error
	state int
	err   error // io.EOF after the end marker, or why reading stopped
}

func newDataReader(br *bufio.Reader, wait func() error) *dataReader {
	return &dataReader{br: br, wait: wait}
}

// Read implements io.Reader; it returns io.EOF after the end marker and io.ErrUnexpectedEOF
// when the connection ends before it.
func (r *dataReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(p) {
		buf := r.buffered()
		if len(buf) == 0 {
			if n > 0 {
				return n, nil
			}
			if err := r.fill(1); err != nil {
				return 0, err
			}
			continue
		}
		switch r.state {
		case atLineStart:
			if buf[0] == '.' {
				if len(buf) < 3 {
					if n > 0 {
						return n, nil
					}
					if err := r.fill(3); err != nil {
						return 0, err
					}
					continue
				}
				if buf[1] == '\r' && buf[2] == '\n' {
					r.br.Discard(3)
					r.err = io.EOF
					return n, io.EOF
				}
				r.br.Discard(1) // the stuffed dot
				buf = buf[1:]
			}
			r.state = inLine
		case afterCR:
			if buf[0] == '\n' {
				p[n] = '\n'
				n++
				r.br.Discard(1)
				r.state = atLineStart
				continue
			}
			r.state = inLine
		}
		chunk := buf[:min(len(buf), len(p)-n)]
		if i := bytes.Index(chunk, crlfDot); i >= 0 {
			n += copy(p[n:], chunk[:i+2])
			r.br.Discard(i + 2)
			r.state = atLineStart
			continue
		}
		n += copy(p[n:], chunk)
		r.br.Discard(len(chunk))
		switch {
		case bytes.HasSuffix(chunk, []byte("\r\n")):
			r.state = atLineStart
		case chunk[len(chunk)-1] == '\r':
			r.state = afterCR
		default:
			r.state = inLine
		}
	}
	return n, nil
}

func (r *dataReader) buffered() []byte {
	b, _ := r.br.Peek(r.br.Buffered())
	return b
}

// fill waits until at least k bytes are buffered.
func (r *dataReader) fill(k int) error {
	if r.wait != nil {
		if err := r.wait(); err != nil {
			r.err = err
			return err
		}
	}
	if _, err := r.br.Peek(k); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
		return err
	}
	return nil
}

// drain reads and discards the rest of a message (a dataReader) or chunk (a chunkReader), so
// that the reply follows what the client sent. It returns nil once the end is read.
func drain(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// chunkReader gives out the next n octets of the connection: one BDAT chunk (RFC 3030), taken
// as it is.
type chunkReader struct {
	br   *bufio.Reader
	wait func() error
	n    int64
	err  error // why reading stopped before n octets
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	if r.br.Buffered() == 0 && r.wait != nil {
		if err := r.wait(); err != nil {
			r.err = err
			return 0, err
		}
	}
	m, err := r.br.Read(p)
	r.n -= int64(m)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
		return m, err
	}
	return m, nil
}
