package pipeline

import (
	"bytes"

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
		out, n := dropFields(bytesOf(content), p.forgedResult)
		if n == 0 {
			return content, nil
		}
		return msgbuf.FromBytes(out), nil
	}
	head, err := headerSection(content.NewReader())
	if err != nil {
		return nil, err
	}
	out, n := dropFields(head, p.forgedResult)
	if n == 0 {
		return content, nil
	}
	return &splicedBody{head: out, src: content, skip: int64(len(head))}, nil
}

// splitHeader returns the header section (with its final blank line) and the body. A message
// with no blank line is all header.
func splitHeader(msg []byte) (header, body []byte) {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+4], msg[i+4:]
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+2], msg[i+2:]
	}
	return msg, nil
}

// dropFields removes header fields for which drop(name, value) is true, folded continuation
// lines included, and keeps every other byte of the message as it was. name and value are
// trimmed of white space and valid only during the call. A message with nothing to remove is
// returned as it is, not copied.
func dropFields(msg []byte, drop func(name, value []byte) bool) ([]byte, int) {
	header, body := splitHeader(msg)
	var out []byte // nil until a field is dropped
	removed := 0
	for start := 0; start < len(header); {
		// A field is its first line plus the continuation lines (starting with space or tab).
		end := start
		for {
			nl := bytes.IndexByte(header[end:], '\n')
			if nl < 0 {
				end = len(header)
				break
			}
			end += nl + 1
			if end == len(header) || header[end] != ' ' && header[end] != '\t' {
				break
			}
		}
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
