package mailauth

import (
	"errors"
	"strings"
)

// ErrMalformedAuthResults is an Authentication-Results field body whose authserv-id does not
// parse.
var ErrMalformedAuthResults = errors.New("mailauth: malformed Authentication-Results")

// ParseAuthservID reads the start of an Authentication-Results field body with the RFC 8601
// §2.2 grammar:
//
//	[CFWS] authserv-id [ CFWS authres-version ] [CFWS] ";" ...
//
// where authserv-id is a value (RFC 2045: a token or a quoted-string), CFWS is white space,
// line folding and nested (comments), and authres-version is digits. It returns the id as it
// is compared (see SameAuthservID) and the text after the ";". Work is linear in the length
// of body; comment nesting needs no stack.
func ParseAuthservID(body string) (id, rest string, err error) {
	i := skipCFWS(body, 0)
	if i < 0 || i >= len(body) {
		return "", "", ErrMalformedAuthResults
	}
	if body[i] == '"' {
		var b strings.Builder
		for i++; ; i++ {
			if i >= len(body) {
				return "", "", ErrMalformedAuthResults
			}
			c := body[i]
			if c == '"' {
				i++
				break
			}
			if c == '\\' {
				if i++; i >= len(body) {
					return "", "", ErrMalformedAuthResults
				}
				c = body[i]
			}
			if c == '\r' || c == '\n' {
				continue // folding inside a quoted-string is not part of it
			}
			b.WriteByte(c)
		}
		id = b.String()
	} else {
		start := i
		for i < len(body) && isTokenByte(body[i]) {
			i++
		}
		id = body[start:i]
	}
	if id == "" {
		return "", "", ErrMalformedAuthResults
	}
	if i = skipCFWS(body, i); i < 0 {
		return "", "", ErrMalformedAuthResults
	}
	if i < len(body) && body[i] >= '0' && body[i] <= '9' { // authres-version
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
		}
		if i = skipCFWS(body, i); i < 0 {
			return "", "", ErrMalformedAuthResults
		}
	}
	if i >= len(body) || body[i] != ';' {
		return "", "", ErrMalformedAuthResults
	}
	return id, body[i+1:], nil
}

// SameAuthservID reports whether two authserv-ids name the same service: host names compare
// without regard to case or a trailing dot.
func SameAuthservID(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// ClaimsAuthservID reports whether an Authentication-Results field body must be treated as
// written by the service named ours (RFC 8601 §5: such a field from outside is removed). A
// body that does not parse counts as a claim too: a lenient reader could take it for ours,
// and nobody can rely on it.
func ClaimsAuthservID(body, ours string) bool {
	id, _, err := ParseAuthservID(body)
	return err != nil || SameAuthservID(id, ours)
}

// skipCFWS returns the index after the white space and comments at body[i:], or -1 when a
// comment is not closed.
func skipCFWS(body string, i int) int {
	depth := 0
	for ; i < len(body); i++ {
		switch c := body[i]; {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++ // quoted-pair inside a comment
		case depth > 0, c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return i
		}
	}
	if depth > 0 {
		return -1
	}
	return i
}

// isTokenByte: RFC 2045 token characters; bytes above 127 are allowed for UTF-8 header
// fields (RFC 6532).
func isTokenByte(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	return !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}
