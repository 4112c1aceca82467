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
		// The sub-address rule: the base is a prefix of the address, in the same domain,
		// that parses and is its own base; base, separator and tag make the local part.
		for _, sep := range []string{"+", "-"} {
			base, tag := (Subaddressing{Separator: sep}).Split(a)
			if base.Domain != a.Domain || base.Local == "" {
				t.Fatalf("Split(%q, %q) = %q", a, sep, base)
			}
			if tag != "" && base.Local+sep+tag != a.Local {
				t.Fatalf("Split(%q, %q) = %q, %q", a, sep, base, tag)
			}
			if _, err := Parse(base.String()); err != nil {
				t.Fatalf("base %q of %q does not parse: %v", base, a, err)
			}
		}
	})
}
