package imapserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/mailindex"
)

// A stored message whose MIME structure is beyond mimelimit's bounds (the MX refuses such
// mail, but IMAP APPEND and older data directories may hold some) is served as one part:
// BODYSTRUCTURE, BODY[n] and BINARY[n] see its body as a single
// application/octet-stream part, so that neither the server's MIME parser nor the client walks
// the structure. ENVELOPE, BODY[HEADER] and
// BODY[] serve the stored bytes as they are.

// flatContentType replaces the Content-Type of a message served as one part.
const flatContentType = "Content-Type: application/octet-stream\r\n"

// tree returns the message's entity tree and a reader of the bytes its offsets refer to,
// parsed once per FETCH of the message. A message served as one part is held in memory
// flattened (such messages are rare, and nothing else reads them).
func (msg *message) tree() (*mimeutil.Part, io.ReaderAt, error) {
	if msg.mime != nil {
		return msg.mime, msg.mimeSrc, nil
	}
	rc, err := msg.parseReader()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	var src io.ReaderAt
	switch {
	case *msg.flat:
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, nil, err
		}
		src = bytes.NewReader(b)
		rc = io.NopCloser(bytes.NewReader(b))
	case msg.data != nil:
		src = bytes.NewReader(msg.data)
	case msg.file != nil:
		src = msg.file
	default:
		src = streamReaderAt{msg.openStored}
	}
	tree := mimeutil.Scan(rc)
	msg.mime, msg.mimeSrc = tree, src
	return tree, src, nil
}

// streamReaderAt reads a range of a body the store streams, opening it again for each read.
type streamReaderAt struct {
	open func() (io.ReadCloser, error)
}

func (s streamReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := s.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		return 0, err
	}
	return io.ReadFull(rc, p)
}

// parseReader opens the message for the MIME parser: as stored, or flattened when its
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
	kept, _ := mimeutil.RemoveFields(raw, func(name, _ []byte) bool {
		return bytes.EqualFold(name, []byte("Content-Type"))
	})
	fields, _ := mimeutil.SplitEntity(kept)
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(fields), strings.NewReader(flatContentType+"\r\n"), br), rc}, nil
}
