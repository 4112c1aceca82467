package mailindex

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// maxIndexedText bounds the text indexed per message; a search for words beyond it in a
// larger text part does not find them. Attachments that are not text are never indexed.
const maxIndexedText = 4 << 20

// Extract reads a message once and returns its searchable form: decoded header fields as
// "Name: value" lines, the decoded text of its text parts, the raw header and, when envelope
// is not nil, envelope(raw header).
func Extract(r io.Reader, envelope func(rawHeader []byte) []byte) (mailstore.SearchText, error) {
	var st mailstore.SearchText
	br := bufio.NewReader(r)
	raw, err := ReadRawHeader(br)
	if err != nil {
		return st, err
	}
	if envelope != nil {
		st.Envelope = envelope(raw)
	}
	hdr, herr := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if herr != nil {
		// Not a parsable header: index the whole thing as text.
		rest, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(raw), br), maxIndexedText))
		st.Text = string(rest)
		return st, err
	}
	st.RawHeader = raw
	st.Header = headerText(hdr)
	var text strings.Builder
	ent, err := gomessage.New(gomessage.Header{Header: hdr}, br)
	if err == nil || gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err) {
		collectText(ent, &text, 0)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return st, err
	}
	st.Text = text.String()
	return st, nil
}

// maxRawHeader bounds the header section kept for ENVELOPE and header searches.
const maxRawHeader = 1 << 20

// ReadRawHeader reads the header section up to and including the blank line that ends it,
// at most about 1 MiB of it (a longer one is cut there).
func ReadRawHeader(br *bufio.Reader) ([]byte, error) {
	raw, err := mimeutil.ReadHeaderSection(br, maxRawHeader)
	if errors.Is(err, mimeutil.ErrHeaderTooLarge) {
		return raw, nil
	}
	return raw, err
}

func headerText(h textproto.Header) string {
	var b strings.Builder
	dec := mime.WordDecoder{}
	fields := h.Fields()
	for fields.Next() {
		v := fields.Value()
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		v = strings.Join(strings.Fields(v), " ")
		b.WriteString(fields.Key())
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}

func collectText(e *gomessage.Entity, b *strings.Builder, depth int) {
	if depth > 20 {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
				return
			}
			if p == nil {
				return
			}
			collectText(p, b, depth+1)
		}
	}
	t, _, _ := e.Header.ContentType()
	if t == "" {
		t = "text/plain"
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return
	}
	room := maxIndexedText - b.Len()
	if room <= 0 {
		return
	}
	data, _ := io.ReadAll(io.LimitReader(e.Body, int64(room)))
	b.Write(data)
	b.WriteByte('\n')
}
