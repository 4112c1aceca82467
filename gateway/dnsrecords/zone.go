package dnsrecords

import (
	"fmt"
	"strings"
)

// maxCharString is the longest character-string in a TXT record's data (RFC 1035 §3.3): a
// longer text is published as several strings that readers join without a separator (RFC
// 7208 §3.3 for SPF, RFC 6376 §3.6.2.2 for DKIM).
const maxCharString = 255

// SplitTXT cuts text into character-strings of at most 255 bytes.
func SplitTXT(text string) []string {
	out := []string{}
	for len(text) > maxCharString {
		out = append(out, text[:maxCharString])
		text = text[maxCharString:]
	}
	return append(out, text)
}

// quote writes one character-string in zone-file form: in double quotes, with '"' and '\'
// escaped and bytes outside printable ASCII as \DDD (RFC 1035 §5.1).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Zone is r as a zone-file line (RFC 1035 §5): the owner name fully qualified, the TTL, the
// class and type, and the data; a TXT text longer than 255 bytes becomes several quoted
// strings in parentheses, one a line.
func (r Record) Zone() string {
	head := fmt.Sprintf("%s %d IN %s ", fqdn(r.Name), r.TTL, r.Type)
	if r.Type != TypeTXT {
		return head + r.Value
	}
	parts := SplitTXT(r.Value)
	if len(parts) == 1 {
		return head + quote(parts[0])
	}
	var b strings.Builder
	b.WriteString(head + "(")
	for _, p := range parts {
		b.WriteString("\n\t" + quote(p))
	}
	b.WriteString(" )")
	return b.String()
}

// fqdn writes a name with its final dot.
func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
