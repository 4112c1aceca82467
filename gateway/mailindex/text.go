package mailindex

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// maxIndexedText bounds the text indexed per message; a search for words beyond it in a
// larger text part does not find them. Attachments that are not text are never indexed.
const maxIndexedText = 4 << 20

// Parts selects what Texts reads of a message's search text: a search reads only what its
// criteria look at.
type Parts uint8

const (
	// PartHeader is SearchText.Header, the decoded header fields.
	PartHeader Parts = 1 << iota
	// PartText is SearchText.Text, the decoded text parts.
	PartText
	// AllParts is every part of the search text but the envelope.
	AllParts = PartHeader | PartText
)

// Extract reads a message once and returns its searchable form: decoded header fields as
// "Name: value" lines (names in canonical form, values unfolded, their encoded words decoded
// and their white space collapsed), the decoded text of its text parts (each converted from
// its charset to UTF-8 and followed by a line end; a message/rfc822 part as it is), the raw
// header and, when envelope is not nil, envelope(raw header). A header section that does not
// parse (a line that is not a field) is indexed with the whole message as text.
func Extract(r io.Reader, envelope func(rawHeader []byte) []byte) (mailstore.SearchText, error) {
	return extract(r, envelope, AllParts)
}

// extract is Extract reading only the parts of the search text that want selects.
func extract(r io.Reader, envelope func(rawHeader []byte) []byte, want Parts) (mailstore.SearchText, error) {
	var st mailstore.SearchText
	er := &errReader{r: r}
	br := mimeutil.GetReader(er)
	defer mimeutil.PutReader(br)
	raw, err := ReadRawHeader(br)
	if err != nil {
		return st, err
	}
	if envelope != nil {
		st.Envelope = envelope(raw)
	}
	if !parsableHeader(raw) {
		rest, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(raw), br), maxIndexedText))
		st.Text = string(rest)
		return st, err
	}
	st.RawHeader = raw
	if want&PartHeader != 0 {
		st.Header = headerText(raw)
	}
	if want&PartText == 0 {
		return st, nil
	}
	var text strings.Builder
	mimeutil.Leaves(io.MultiReader(bytes.NewReader(raw), br), func(p *mimeutil.Part, body io.Reader) {
		collectText(&text, p, body)
	})
	st.Text = text.String()
	return st, er.err
}

// errReader keeps the first error other than io.EOF of the reader it wraps: the MIME scanner
// ends the message at a read error without one.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// collectText appends the decoded text of a leaf of type text/* or message/* to b, within
// maxIndexedText. Text in a charset that does not convert is given as it is.
func collectText(b *strings.Builder, p *mimeutil.Part, body io.Reader) {
	room := maxIndexedText - b.Len()
	if p.Type != "text" && p.Type != "message" || room <= 0 {
		return
	}
	r := mimeutil.DecodeBody(body, p.Header.Get("Content-Transfer-Encoding"))
	if p.Type == "text" {
		if cr, err := mimeutil.CharsetReader(p.Params["charset"], r); err == nil {
			r = cr
		}
	}
	// Read through a buffer of its own: strings.Builder grows by what is written, not by
	// bytes.Buffer's 512-byte steps. A part that does not decode is indexed up to its error.
	var buf [4096]byte
	for room > 0 {
		n, err := r.Read(buf[:min(room, len(buf))])
		b.Write(buf[:n])
		room -= n
		if err != nil {
			break
		}
	}
	b.WriteByte('\n')
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

// parsableHeader reports whether a header section is a list of fields: it does not begin
// with white space, and every line up to the blank line is a field (a name of printable
// ASCII before a colon, white space around it allowed) or the continuation of one.
func parsableHeader(raw []byte) bool {
	if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
		return false
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			return true
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return false
		}
		for _, c := range bytes.Trim(line[:colon], " \t") {
			if c < '!' || c > '~' {
				return false
			}
		}
	}
	return true
}

// headerText is the header of SearchText: one "Name: value" line per field, in order.
func headerText(raw []byte) string {
	var b strings.Builder
	mimeutil.ScanFields(raw, func(name, value []byte) {
		if len(name) == 0 {
			return
		}
		b.WriteString(textproto.CanonicalMIMEHeaderKey(string(name)))
		b.WriteString(": ")
		for i, w := range strings.Fields(mimeutil.DecodeWords(string(value))) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		b.WriteByte('\n')
	})
	return b.String()
}
