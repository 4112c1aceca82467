package imapserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/gateway/mailindex"
)

// A stored message whose MIME structure is beyond mimelimit's bounds (the MX refuses such
// mail, but IMAP APPEND and older data directories may hold some) is served as one part:
// BODYSTRUCTURE, BODY[n] and BINARY[n] see its body as a single
// application/octet-stream part, so that neither go-imap's parser, which follows every level
// through nested readers, nor the client walks the structure. ENVELOPE, BODY[HEADER] and
// BODY[] serve the stored bytes as they are.

// flatContentType replaces the Content-Type of a message served as one part.
const flatContentType = "Content-Type: application/octet-stream\r\n"

// parseReader opens the message for go-imap's MIME parsers: as stored, or flattened when its
// structure is beyond the bounds (checked once per FETCH of the message).
func (msg *message) parseReader() (io.ReadCloser, error) {
	if msg.flat == nil {
		rc, err := msg.reader()
		if err != nil {
			return nil, err
		}
		err = mimelimit.Check(rc)
		rc.Close()
		switch {
		case errors.Is(err, mimelimit.ErrExceeded):
			flat := true
			msg.flat = &flat
		case err != nil:
			return nil, err
		default:
			flat := false
			msg.flat = &flat
		}
	}
	rc, err := msg.reader()
	if err != nil || !*msg.flat {
		return rc, err
	}
	return flattened(rc)
}

// flattened returns the message read from rc with every Content-Type field of its header
// replaced by flatContentType.
func flattened(rc io.ReadCloser) (io.ReadCloser, error) {
	br := bufio.NewReader(rc)
	raw, err := mailindex.ReadRawHeader(br)
	if err != nil {
		rc.Close()
		return nil, err
	}
	var head bytes.Buffer
	drop := false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line = raw[:i+1]
		}
		raw = raw[len(line):]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // the blank line that ends the header
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := bytes.Cut(line, []byte(":"))
			drop = bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Type"))
		}
		if !drop {
			head.Write(line)
		}
	}
	head.WriteString(flatContentType + "\r\n")
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&head, br), rc}, nil
}
