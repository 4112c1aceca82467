package imapserver

import (
	"bytes"
	"io"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// storedForm is the form in which an appended message is stored: as it came, unless a part
// is in the binary transfer encoding or holds NUL bytes (a literal8 upload, RFC 3516). Such
// parts are stored base64-encoded (RFC 3516 §4.3 allows a server to store a binary upload in
// another encoding, and Dovecot does the same), so that BODY[] can be given to any client,
// while BINARY[] decodes them back to the bytes that were appended.
//
// A body held in memory is re-encoded into memory; a spooled one is re-encoded each time the
// store reads it, so memory stays bounded whatever the message's size. A body that cannot be
// read is returned as it is: the store reads it again and reports the error.
func storedForm(body mailstore.Body) mailstore.Body {
	parts, err := mimeutil.BinaryParts(body.NewReader())
	if err != nil || parts == nil {
		return body
	}
	if b, ok := body.(memBody); ok {
		data, err := io.ReadAll(mimeutil.EncodeParts(bytes.NewReader(b), parts))
		if err != nil {
			return body
		}
		return memBody(data)
	}
	size, err := io.Copy(io.Discard, mimeutil.EncodeParts(body.NewReader(), parts))
	if err != nil {
		return body
	}
	return encodedBody{src: body, parts: parts, size: size}
}

// encodedBody is a spooled body with its binary parts re-encoded as it is read.
type encodedBody struct {
	src   mailstore.Body
	parts []int
	size  int64
}

func (b encodedBody) Size() int64 { return b.size }
func (b encodedBody) NewReader() io.Reader {
	return mimeutil.EncodeParts(b.src.NewReader(), b.parts)
}
