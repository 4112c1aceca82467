package address

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics, and what it accepts is canonical and stable.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a@b", "Alice@Example.TEST.", `"x y"@z`, "u@[127.0.0.1]", "u@[IPv6:::1]", "@a:b@c", "a@b@c", "jörg@bücher.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(a.String()) || strings.ContainsAny(a.String(), "\r\n\x00") {
			t.Fatalf("accepted %q as %q", s, a)
		}
		b, err := Parse(a.String())
		if err != nil || b != a {
			t.Fatalf("canonical form %q of %q does not parse back: %v %v", a, s, b, err)
		}
		if !a.IsLiteral() && a.Domain != strings.ToLower(a.Domain) {
			t.Fatalf("domain not lower case: %q", a.Domain)
		}
	})
}
