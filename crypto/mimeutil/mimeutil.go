// Package mimeutil is Sealgate's one header and MIME toolkit, used by the crypto packages and
// the gateway alike: where a message's header section ends (HeaderEnd, SplitHeader,
// ReadHeaderSection, HeaderWatcher for a stream), header fields with their exact bytes
// (ParseHeader, Header.Get, ScanFields, RemoveFields), Content-Type values
// (ParseContentType), the MIME tree (scan.go: Scan keeps offsets only, for a message read as
// a stream; Leaves, in the same pass, hands each leaf's body to its caller as it streams by;
// ParseEntity gives the bytes of each entity, built on the same scanner), multipart
// splitting that keeps every byte of a part, CRLF canonicalisation, transfer-encoding
// decoding, binary parts re-encoded in base64 for storage (binary.go: BinaryParts,
// EncodeParts), and what a reader is shown (text.go: encoded
// words, address lists, message identifiers, Content-Disposition, text in UTF-8 from its
// charset). The classification of a message by its
// OpenPGP or S/MIME protection is crypto/mimecrypt's, built on this package.
//
// Nothing here rewrites a part it does not have to: SplitMultipart and
// ParseEntity return sub-slices of their input so that signed parts can be
// verified and passed through unchanged. ParseEntity bounds the structure it
// follows by mimelimit's depth and part limits and takes linear time.
package mimeutil

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// ErrMalformed is returned for MIME structures that cannot be parsed.
var ErrMalformed = errors.New("mimeutil: malformed MIME structure")

// MaxHeaderSize caps a header block read from a stream.
const MaxHeaderSize = 1 << 20

// Field is one header field, Raw holding its exact bytes including the
// folded continuation lines and the final line break.
type Field struct {
	Name string // as written
	Raw  []byte
}

// Value returns the unfolded field value with surrounding space trimmed.
func (f Field) Value() string {
	i := bytes.IndexByte(f.Raw, ':')
	if i < 0 {
		return ""
	}
	return string(bytes.TrimSpace(unfold(nil, f.Raw[i+1:])))
}

// unfold appends v to dst without its line breaks (RFC 5322 §2.2.3: the white space after
// them is kept).
func unfold(dst, v []byte) []byte {
	for len(v) > 0 {
		i := bytes.IndexByte(v, '\n')
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, bytes.TrimSuffix(v[:i], []byte{'\r'})...)
		v = v[i+1:]
	}
	return dst
}

// ScanFields calls fn for each field of the header section at the start of raw, up to its
// first empty line, with its name and its value unfolded and trimmed as Field.Value gives
// it; both are valid only during the call. Lines without a colon are skipped, as mail
// readers do. It allocates only for a folded value, so that a caller reading a few fields
// of many messages pays for nothing else.
func ScanFields(raw []byte, fn func(name, value []byte)) {
	var buf []byte
	for len(raw) > 0 {
		end := fieldEnd(raw)
		field, first := raw[:end], raw[:lineEnd(raw)]
		raw = raw[end:]
		if len(bytes.TrimRight(first, "\r\n")) == 0 {
			return
		}
		colon := bytes.IndexByte(first, ':')
		if colon <= 0 {
			continue
		}
		value := field[colon+1:]
		if len(first) < len(field) {
			buf = unfold(buf[:0], value)
			value = buf
		}
		fn(bytes.TrimSpace(field[:colon]), bytes.TrimSpace(value))
	}
}

// Header is a parsed header block that remembers its raw bytes.
type Header struct {
	Fields []Field
}

// Get returns the value of the first field called name (case-insensitive).
func (h Header) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value()
		}
	}
	return ""
}

// Values returns the values of every field called name.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value())
		}
	}
	return out
}

// ContentType returns the lower-cased media type and its parameters; a
// missing or unparsable field gives text/plain as RFC 2045 says.
func (h Header) ContentType() (string, map[string]string) {
	return ParseContentType(h.Get("Content-Type"))
}

// ParseContentType reads a Content-Type value: the lower-cased media type and its parameters
// (names lower-cased). An empty value is text/plain (RFC 2045 §5.2); a value that does not
// parse strictly is read leniently (the type before the first ';', name=value pairs after it),
// as mail readers do, so that a classifier sees what a reader will show.
func ParseContentType(v string) (string, map[string]string) {
	if v == "" {
		return "text/plain", map[string]string{}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		// Lenient fallback: take the type before the first ';'.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
		params = lenientParams(v)
	}
	return mt, params
}

func lenientParams(v string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(v, ";")[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return out
}

// IsContent reports whether a field describes the MIME content (Content-*
// and MIME-Version), i.e. belongs to the entity rather than the message.
func IsContent(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "content-") || n == "mime-version"
}

// ParseHeader parses a raw header block (without the empty separator line).
func ParseHeader(raw []byte) Header {
	var h Header
	for len(raw) > 0 {
		end := fieldEnd(raw)
		line := raw[:end]
		raw = raw[end:]
		name := ""
		if i := bytes.IndexByte(line, ':'); i > 0 {
			name = strings.TrimSpace(string(line[:i]))
		}
		h.Fields = append(h.Fields, Field{Name: name, Raw: line})
	}
	return h
}

func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return len(b)
	}
	return i + 1
}

// SplitEntity splits an entity into its header block and body. The blank
// line between them belongs to neither. An entity without a blank line is
// all header, and body is then nil.
func SplitEntity(b []byte) (header, body []byte) {
	var w HeaderWatcher
	w.Write(b)
	if !w.Done() {
		return b, nil
	}
	end := int(w.Size())
	start := end - 1 // the LF of the blank line, and the CRs before it
	for start > 0 && b[start-1] == '\r' {
		start--
	}
	return b[:start], b[end:]
}

// ReadHeader reads a raw header block from br, consuming the blank line
// that ends it. The returned bytes exclude that blank line; sep is the line
// break it used ("\r\n" or "\n").
func ReadHeader(br *bufio.Reader) (raw []byte, sep string, err error) {
	section, err := ReadHeaderSection(br, MaxHeaderSize)
	if errors.Is(err, ErrHeaderTooLarge) {
		return nil, "", ErrMalformed
	}
	if err != nil {
		return nil, "", err
	}
	raw, _ = SplitEntity(section)
	if blank := section[len(raw):]; len(blank) > 0 && !bytes.HasSuffix(blank, crlf) {
		return raw, "\n", nil
	}
	return raw, "\r\n", nil
}

// SplitMultipart splits a multipart body into the exact bytes of its parts.
// The line break before each delimiter line belongs to the delimiter (RFC
// 2046 §5.1.1), so it is not part of the preceding part.
func SplitMultipart(body []byte, boundary string) ([][]byte, error) {
	if boundary == "" {
		return nil, ErrMalformed
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of current part
	off := 0
	closed := false
	for off < len(body) {
		e := off + lineEnd(body[off:])
		line := body[off:e]
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r\n")
			isClose := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || isClose {
				if start >= 0 {
					end := off
					if end > start && body[end-1] == '\n' {
						end--
						if end > start && body[end-1] == '\r' {
							end--
						}
					}
					if end < start {
						end = start
					}
					parts = append(parts, body[start:end])
				}
				if isClose {
					closed = true
					break
				}
				start = e
			}
		}
		off = e
	}
	if !closed && start >= 0 {
		// tolerate a missing close delimiter
		parts = append(parts, bytes.TrimRight(body[start:], "\r\n"))
	}
	if len(parts) == 0 {
		return nil, ErrMalformed
	}
	return parts, nil
}

// CanonicalCRLF returns b with every bare LF turned into CRLF.
func CanonicalCRLF(b []byte) []byte {
	n := bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n"))
	if n == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+n)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// CRLFWriter converts bare LF to CRLF while streaming.
type CRLFWriter struct {
	W      io.Writer
	lastCR bool
}

func (c *CRLFWriter) Write(p []byte) (int, error) {
	start := 0
	for i, ch := range p {
		if ch != '\n' {
			continue
		}
		prevCR := c.lastCR
		if i > 0 {
			prevCR = p[i-1] == '\r'
		}
		if prevCR {
			continue
		}
		// Write what precedes the bare LF, then CRLF; no allocation.
		if _, err := c.W.Write(p[start:i]); err != nil {
			return 0, err
		}
		if _, err := c.W.Write(crlf); err != nil {
			return 0, err
		}
		start = i + 1
	}
	if start < len(p) {
		if _, err := c.W.Write(p[start:]); err != nil {
			return 0, err
		}
	}
	if len(p) > 0 {
		c.lastCR = p[len(p)-1] == '\r'
	}
	return len(p), nil
}

var crlf = []byte("\r\n")

// DecodeBody returns a reader for body decoded by its transfer encoding.
func DecodeBody(body io.Reader, cte string) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// DecodeBytes decodes body by its transfer encoding. For the identity encodings (7bit, 8bit,
// binary, none) the result is body itself; callers must not modify it.
func DecodeBytes(body []byte, cte string) ([]byte, error) {
	r := DecodeBody(bytes.NewReader(body), cte)
	if _, identity := r.(*bytes.Reader); identity {
		return body, nil
	}
	var out bytes.Buffer
	out.Grow(len(body))
	_, err := out.ReadFrom(r)
	return out.Bytes(), err
}

// base64Cleaner drops characters outside the base64 alphabet (line
// breaks, stray spaces) so that the standard decoder accepts mail bodies.
type base64Cleaner struct {
	r io.Reader
}

func (c *base64Cleaner) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		j := 0
		for _, ch := range p[:n] {
			if (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=' {
				p[j] = ch
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// Entity is a parsed MIME entity whose slices point into the original bytes.
type Entity struct {
	Raw       []byte // the whole entity
	RawHeader []byte
	Header    Header
	Body      []byte // raw, still transfer-encoded
	MediaType string
	Params    map[string]string

	parts    []*Entity // of a multipart
	partsErr error
	unsplit  bool // the top entity until Parts first parses its tree
}

// ParseEntity parses b as a MIME entity without copying. Its multipart descendants are
// found when Parts is first called, all in one pass over b by the scanner behind Scan, in time
// linear in its length however deep they nest (see tree.go), down to mimelimit.MaxDepth levels and
// mimelimit.MaxParts entities; beyond those bounds Parts fails with mimelimit.ErrExceeded.
// message/rfc822 parts are not entered. An Entity is not safe for concurrent use.
func ParseEntity(b []byte) *Entity {
	return fill(&Entity{unsplit: true}, b)
}

// Parts returns the child entities of a multipart entity: the exact bytes between its
// delimiter lines, as SplitMultipart splits them.
func (e *Entity) Parts() ([]*Entity, error) {
	if !strings.HasPrefix(e.MediaType, "multipart/") {
		return nil, ErrMalformed
	}
	if e.unsplit {
		e.unsplit = false
		parseTree(e)
	}
	if e.partsErr != nil {
		return nil, e.partsErr
	}
	return e.parts, nil
}

// Decoded returns the body decoded by its Content-Transfer-Encoding.
func (e *Entity) Decoded() ([]byte, error) {
	return DecodeBytes(e.Body, e.Header.Get("Content-Transfer-Encoding"))
}
