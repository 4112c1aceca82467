package pipeline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/keys"
)

// StreamThreshold is the size above which the security stage streams a message instead of
// holding it in memory. Below it every form of the message (as received, decrypted,
// encrypted) is a byte slice; above it only the header section is in memory, the body stays
// in the SMTP server's msgbuf, and every transformed form is written to a msgbuf of its own,
// whose spill file is encrypted with a per-buffer key, so plaintext that the policy encrypts
// still never reaches the disk.
//
// A streamed message's protection is read from its top-level header alone, by the classifier
// of every message (crypto/mimecrypt) given only the header section: multipart/encrypted
// (PGP/MIME), S/MIME application/pkcs7-mime or an application/octet-stream named *.p7m,
// multipart/signed with the OpenPGP or S/MIME protocol. Inline PGP inside a body this large is
// not looked for, so such a message counts as plain. S/MIME transforms keep their own 64 MiB buffer (crypto/smime).
const StreamThreshold = 4 << 20

// work is the scratch state of one message in the security stage: the buffers that transforms
// write to, released when the message is stored or refused.
type work struct {
	large bool
	dir   string
	bufs  []*msgbuf.Buffer
	keys  keys.Lookup // the keyring through the message's keyMemo (secureCopies sets it)
}

// newBuffer returns an output buffer for about hint bytes: all in memory for an ordinary
// message; with the default 1 MiB in memory and an encrypted spill for a large one.
func (w *work) newBuffer(hint int64) *msgbuf.Buffer {
	limit := math.MaxInt
	if w.large {
		limit = 0
	}
	b := msgbuf.New(msgbuf.Options{Dir: w.dir, MemoryLimit: limit, SizeHint: int(min(hint, 1<<20))})
	w.bufs = append(w.bufs, b)
	return b
}

// newPlaintextBuffer returns the output buffer of a decryption. Decompression can make the
// plaintext far larger than the message (up to Options.MaxMessageSize), so beyond
// StreamThreshold it spills even for an ordinary message; see spilled.
func (w *work) newPlaintextBuffer(hint int64) *msgbuf.Buffer {
	b := msgbuf.New(msgbuf.Options{Dir: w.dir, MemoryLimit: StreamThreshold, SizeHint: int(min(hint, StreamThreshold))})
	w.bufs = append(w.bufs, b)
	return b
}

// spilled makes the rest of the message's processing take the large-message path once a
// transform has produced a body above StreamThreshold.
func (w *work) spilled(b *msgbuf.Buffer) {
	if b.Size() > StreamThreshold {
		w.large = true
	}
}

func (w *work) discard() {
	for _, b := range w.bufs {
		b.Discard()
	}
	w.bufs = nil
}

// bytesOf returns the content of an in-memory body (the small path), reading it otherwise.
func bytesOf(b mailstore.Body) []byte {
	if bb, ok := b.(interface{ Bytes() ([]byte, bool) }); ok {
		if data, ok := bb.Bytes(); ok {
			return data
		}
	}
	data, _ := readAllBody(b.NewReader(), b.Size())
	return data
}

// splicedBody is a message whose header section was rewritten: head, then src from offset
// skip (its body) onwards.
type splicedBody struct {
	head []byte
	src  *msgbuf.Buffer
	skip int64
}

func (b *splicedBody) Size() int64 { return int64(len(b.head)) + b.src.Size() - b.skip }

func (b *splicedBody) NewReader() io.Reader {
	r := b.src.NewReader()
	if _, err := io.CopyN(io.Discard, r, b.skip); err != nil {
		return io.MultiReader(bytes.NewReader(b.head), errReader{err})
	}
	return io.MultiReader(bytes.NewReader(b.head), r)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// headerSection returns the header section of a message exactly as it is, with the blank line
// that ends it (a message without one is all header), within mimeutil.MaxHeaderSize.
func headerSection(r io.Reader) ([]byte, error) {
	raw, err := mimeutil.ReadHeaderSection(bufio.NewReader(r), mimeutil.MaxHeaderSize)
	if errors.Is(err, mimeutil.ErrHeaderTooLarge) {
		return nil, ErrHeaderTooLarge
	}
	return raw, err
}
