package delivery

import (
	"bufio"
	"bytes"
)

// Where a dataWriter stands in the output.
const (
	wLineStart = iota // at the start of the content or after a CRLF written out
	wInLine
	wAfterCR // a CR was read and is not written yet: CRLF, or a bare CR
)

// dataWriter writes a message as the content of DATA (RFC 5321 §4.5.2): every line end is
// CRLF and a line beginning with "." gets another. It is the only way content reaches a peer,
// so it is where the line-end rule lives: RFC 5321 §2.3.8 allows CR and LF in the content only
// as CRLF, and a next hop that took a bare CR or LF for a line end could find an end of data
// ("<CR>.<CR>", "<LF>.<LF>") inside the message and read what follows as a second message
// from this gateway (SMTP smuggling). So a bare CR and a bare LF are each written as CRLF,
// and the dot rule then applies to the line they begin. Content that has only CRLF line ends
// goes out unchanged apart from the stuffed dots.
type dataWriter struct {
	w     *bufio.Writer
	state int
}

func newDataWriter(w *bufio.Writer) *dataWriter { return &dataWriter{w: w} }

var crlf = []byte("\r\n")

// Write implements io.Writer.
func (d *dataWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch d.state {
		case wAfterCR:
			d.w.Write(crlf) // CRLF, or a bare CR written as one
			d.state = wLineStart
			if p[0] == '\n' {
				p = p[1:]
			}
			continue
		case wLineStart:
			if p[0] == '.' {
				d.w.WriteByte('.')
			}
		}
		// Copy the run up to the next CR or LF as it is.
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			d.w.Write(p)
			d.state = wInLine
			break
		}
		d.w.Write(p[:i])
		if p[i] == '\r' {
			d.state = wAfterCR
		} else {
			d.w.Write(crlf) // a bare LF
			d.state = wLineStart
		}
		p = p[i+1:]
	}
	// bufio.Writer keeps its first error and returns it from every later call.
	if _, err := d.w.Write(nil); err != nil {
		return 0, err
	}
	return n, nil
}

// Close ends the last line if the content did not, and writes the end of data.
func (d *dataWriter) Close() error {
	if d.state != wLineStart {
		d.w.Write(crlf)
	}
	d.state = wLineStart
	_, err := d.w.WriteString(".\r\n")
	return err
}
