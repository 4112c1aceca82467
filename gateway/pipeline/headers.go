package pipeline

import (
	"bytes"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// forgedResult reports whether a header field claims a result only this gateway writes: its
// Sealgate-Security, or Authentication-Results with its authserv-id (RFC 8601 §5). Such fields
// are removed from what arrives, and from the header that decryption brings out of a
// ciphertext (protected header fields are lifted into the message header).
func (p *Pipeline) forgedResult(name, value []byte) bool {
	if bytes.EqualFold(name, []byte(SecurityHeader)) {
		return true
	}
	// RFC 8601 §5: results claiming our authserv-id did not come from us.
	if bytes.EqualFold(name, []byte("Authentication-Results")) {
		return mailauth.ClaimsAuthservID(string(value), p.opts.Hostname)
	}
	return false
}

// withoutForgedResults is decrypted content without the forged result fields its header
// brought from inside the ciphertext.
func (p *Pipeline) withoutForgedResults(w *work, content *msgbuf.Buffer) (mailstore.Body, error) {
	if !w.large {
		out, n := mimeutil.RemoveFields(bytesOf(content), p.forgedResult)
		if n == 0 {
			return content, nil
		}
		return msgbuf.FromBytes(out), nil
	}
	head, err := headerSection(content.NewReader())
	if err != nil {
		return nil, err
	}
	out, n := mimeutil.RemoveFields(head, p.forgedResult)
	if n == 0 {
		return content, nil
	}
	return &splicedBody{head: out, src: content, skip: int64(len(head))}, nil
}
