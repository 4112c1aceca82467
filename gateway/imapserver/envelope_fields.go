package imapserver

import (
	"bytes"
	"strings"
)

// The header fields ENVELOPE is made of, and the rules they are read by. Envelopes are
// stored as they go on the wire, so these rules are those every stored envelope was made
// with, and they differ from mimeutil.ScanFields on purpose:
//   - the header ends at its first empty line, at a line that is not a field (no colon, or a
//     name with a byte outside RFC 5322's ftext), or at once when it starts with white space;
//   - a folded value is its lines, each trimmed of spaces and tabs, joined by one space;
//   - the first field of a name counts.

// The fields of an envelopeFields, by index.
const (
	fieldDate = iota
	fieldSubject
	fieldFrom
	fieldSender
	fieldReplyTo
	fieldTo
	fieldCc
	fieldBcc
	fieldInReplyTo
	fieldMessageID
	numEnvelopeFields
)

var envelopeFieldNames = [numEnvelopeFields]string{
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
}

// envelopeFields holds the values of the fields of a header that ENVELOPE reads.
type envelopeFields [numEnvelopeFields]string

// readEnvelopeFields reads the fields of a raw header section (CRLF or LF line ends).
func readEnvelopeFields(raw []byte) envelopeFields {
	var f envelopeFields
	var seen [numEnvelopeFields]bool
	if len(raw) > 0 && isWSP(raw[0]) {
		return f
	}
	for len(raw) > 0 {
		first, rest := cutLine(raw)
		if len(first) == 0 {
			break
		}
		lines := [][]byte{first}
		for len(rest) > 0 && isWSP(rest[0]) {
			var l []byte
			l, rest = cutLine(rest)
			lines = append(lines, l)
		}
		raw = rest
		name, value, ok := splitField(lines)
		if !ok {
			break
		}
		if len(name) == 0 {
			continue
		}
		for i, n := range envelopeFieldNames {
			if !seen[i] && strings.EqualFold(string(name), n) {
				seen[i] = true
				f[i] = joinTrimmed(value)
			}
		}
	}
	return f
}

// cutLine returns the first line of b without its line end ("\n" or "\r\n") and the rest.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return bytes.TrimSuffix(b[:i], []byte{'\r'}), b[i+1:]
}

// splitField splits a field's lines at the colon of its first line into its name, trimmed,
// and the lines of its value; ok is false for lines that are not a field. An empty name
// (a line starting with a colon) is a field that is passed over.
func splitField(lines [][]byte) (name []byte, value [][]byte, ok bool) {
	c := bytes.IndexByte(lines[0], ':')
	if c < 0 {
		return nil, nil, false
	}
	name = bytes.Trim(lines[0][:c], " \t")
	for _, b := range name {
		if b < 33 || b > 126 {
			return nil, nil, false
		}
	}
	return name, append([][]byte{lines[0][c+1:]}, lines[1:]...), true
}

// joinTrimmed joins lines trimmed of spaces and tabs with one space, empty ones left out.
func joinTrimmed(lines [][]byte) string {
	var b strings.Builder
	for _, l := range lines {
		l = bytes.Trim(l, " \t")
		if len(l) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.Write(l)
	}
	return b.String()
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }
