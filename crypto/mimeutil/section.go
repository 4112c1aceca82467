package mimeutil

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
)

// The header section of a message (RFC 5322 §2.1) ends at its first empty line, whatever the
// line ending: CRLF as on the wire, or a bare LF as in files. Every function below uses that
// one rule, and keeps the empty line with the header section; SplitEntity is the same split
// without the empty line. A message without an empty line is all header.

// ErrHeaderTooLarge reports a header section longer than the caller's bound.
var ErrHeaderTooLarge = errors.New("mimeutil: header section too large")

// HeaderEnd returns the length of the header section at the start of msg, the empty line that
// ends it included; len(msg) when there is no empty line.
func HeaderEnd(msg []byte) int {
	var w HeaderWatcher
	w.Write(msg)
	return int(w.Size())
}

// SplitHeader splits msg into its header section (with the empty line that ends it) and body,
// both sub-slices of msg.
func SplitHeader(msg []byte) (header, body []byte) {
	n := HeaderEnd(msg)
	return msg[:n], msg[n:]
}

// HeaderWatcher finds the end of the header section in a stream written to it, as HeaderEnd
// does on whole content; its zero value is ready to use and it keeps no bytes.
type HeaderWatcher struct {
	n     int64 // bytes written
	end   int64 // length of the header section, 0 while no empty line was seen
	inner bool  // the current line has a byte other than CR
}

// Write looks for the end of the header section in p; it never fails.
func (h *HeaderWatcher) Write(p []byte) (int, error) {
	n := len(p)
	for off := h.n; h.end == 0 && len(p) > 0; {
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line = p[:i]
		}
		h.inner = h.inner || len(bytes.TrimLeft(line, "\r")) > 0
		if i < 0 {
			break
		}
		if !h.inner {
			h.end = off + int64(i) + 1
			break
		}
		h.inner = false
		off += int64(i) + 1
		p = p[i+1:]
	}
	h.n += int64(n)
	return n, nil
}

// Size is the length of the header section: all that was written while no empty line is seen.
func (h *HeaderWatcher) Size() int64 {
	if h.end == 0 {
		return h.n
	}
	return h.end
}

// Done reports whether the end of the header section was seen.
func (h *HeaderWatcher) Done() bool { return h.end != 0 }

// ReadHeaderSection reads the header section from br, the empty line that ends it included;
// at the end of the input without an empty line, everything read. A section longer than max
// bytes ends the read with ErrHeaderTooLarge and the bytes read so far (at least max).
func ReadHeaderSection(br *bufio.Reader, max int) ([]byte, error) {
	var raw []byte
	var w HeaderWatcher
	for {
		line, err := br.ReadSlice('\n')
		raw = append(raw, line...)
		w.Write(line)
		switch {
		case w.Done():
			return raw, nil
		case len(raw) > max:
			return raw, ErrHeaderTooLarge
		case err == bufio.ErrBufferFull:
		case errors.Is(err, io.EOF):
			return raw, nil
		case err != nil:
			return nil, err
		}
	}
}

// RemoveFields removes the header fields of msg for which drop(name, value) is true, folded
// continuation lines included, and keeps every other byte of the message as it was. name and
// value are trimmed of white space and valid only during the call. A message with nothing to
// remove is returned as it is, not copied; the count says how many fields were removed.
func RemoveFields(msg []byte, drop func(name, value []byte) bool) ([]byte, int) {
	header, body := SplitHeader(msg)
	var out []byte // nil until a field is dropped
	removed := 0
	for start := 0; start < len(header); {
		end := start + fieldEnd(header[start:])
		field := header[start:end]
		name, value, ok := bytes.Cut(field, []byte(":"))
		switch {
		case ok && drop(bytes.TrimSpace(name), bytes.TrimSpace(value)):
			if out == nil {
				out = append(make([]byte, 0, len(msg)), header[:start]...)
			}
			removed++
		case out != nil:
			out = append(out, field...)
		}
		start = end
	}
	if out == nil {
		return msg, 0
	}
	return append(out, body...), removed
}

// fieldEnd is the length of the field at the start of b: its first line and the continuation
// lines (starting with space or tab) after it.
func fieldEnd(b []byte) int {
	end := lineEnd(b)
	for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
		end += lineEnd(b[end:])
	}
	return end
}

// ParseTextprotoHeader parses the header section at the start of msg as net/textproto does
// (canonical keys, values unfolded), for callers that work with textproto.MIMEHeader; the
// body, if msg has one, is not read. A field that does not parse is an error.
func ParseTextprotoHeader(msg []byte) (textproto.MIMEHeader, error) {
	head, _ := SplitEntity(msg)
	raw := make([]byte, 0, len(head)+4)
	raw = append(append(raw, head...), "\r\n\r\n"...)
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return h, nil
}
