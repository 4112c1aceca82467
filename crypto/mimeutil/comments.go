package mimeutil

import "strings"

// WithoutComments returns an address field's value without RFC 5322 comments and without
// the folding white space around "@" and ".", so that SEARCH FROM user@example.org finds
// "<user (comment) @ example.org>". Quoted strings are kept as they are; an unbalanced
// comment runs to the end. Linear in the length of v.
func WithoutComments(v string) string {
	if !strings.ContainsAny(v, "()") && !strings.Contains(v, " @") && !strings.Contains(v, "@ ") {
		return v
	}
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && (quoted || depth > 0):
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		case depth > 0:
		case c == '"':
			quoted = true
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, sep := range []string{"@", "."} {
		out = strings.ReplaceAll(out, " "+sep, sep)
		out = strings.ReplaceAll(out, sep+" ", sep)
	}
	return out
}
