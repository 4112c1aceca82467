package mailauth

import (
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

// TestParseAuthservID covers every form RFC 8601 allows for the authserv-id, including those
// go-msgauth's parser reads as the id.
func TestParseAuthservID(t *testing.T) {
	cases := []struct {
		body string
		id   string // "" for malformed
		rest string
	}{
		{"mx.example.test; spf=pass", "mx.example.test", " spf=pass"},
		{"mx.example.test 1; spf=pass", "mx.example.test", " spf=pass"},
		{"mx.example.test 1 (v1); none", "mx.example.test", " none"},
		{"(comment) mx.example.test; spf=pass", "mx.example.test", " spf=pass"},
		{"(a (nested) comment \\) x) mx.example.test (c);dkim=pass", "mx.example.test", "dkim=pass"},
		{`"mx.example.test"; spf=pass`, "mx.example.test", " spf=pass"},
		{`"mx.ex\ample.test" 1; spf=pass`, "mx.example.test", " spf=pass"},
		{"mx.example.test.; spf=pass", "mx.example.test.", " spf=pass"},
		{"MX.Example.TEST; spf=pass", "MX.Example.TEST", " spf=pass"},
		{"\r\n\tmx.example.test\r\n ;\r\n spf=pass", "mx.example.test", "\r\n spf=pass"},
		{"mx.example.test", "", ""},
		{"(unclosed mx.example.test; spf=pass", "", ""},
		{`"unclosed; spf=pass`, "", ""},
		{"; spf=pass", "", ""},
		{"mx.example.test x; spf=pass", "", ""},
		{"mx.example.test 1 2; spf=pass", "", ""},
		{"", "", ""},
	}
	for _, tc := range cases {
		id, rest, err := ParseAuthservID(tc.body)
		if tc.id == "" {
			if err == nil {
				t.Errorf("%q: id %q, want an error", tc.body, id)
			}
			continue
		}
		if err != nil || id != tc.id || rest != tc.rest {
			t.Errorf("%q: %q %q %v, want %q %q", tc.body, id, rest, err, tc.id, tc.rest)
		}
	}
}

func TestClaimsAuthservID(t *testing.T) {
	for _, body := range []string{
		"mx.example.test; spf=pass", "mx.example.test 1; spf=pass", "(c) mx.example.test; spf=pass",
		`"mx.example.test"; spf=pass`, "mx.example.test.; spf=pass", "MX.EXAMPLE.TEST; spf=pass",
		"(unclosed mx.example.test; spf=pass", "garbage",
	} {
		if !ClaimsAuthservID(body, "mx.example.test") {
			t.Errorf("%q not taken as a claim of mx.example.test", body)
		}
	}
	for _, body := range []string{"mx.other.test; spf=pass", "mx.example.test.evil; spf=pass", `"mx.example.test x"; spf=pass`} {
		if ClaimsAuthservID(body, "mx.example.test") {
			t.Errorf("%q taken as a claim of mx.example.test", body)
		}
	}
}

// FuzzParseAuthservID: any input gives an answer; an id found is never empty, and go-msgauth
// reading the same field as another id than ours never hides a claim of ours it parses.
func FuzzParseAuthservID(f *testing.F) {
	for _, s := range []string{"mx.example.test; spf=pass", "(c (d)) \"x\\\"y\" 1 (e); none", "a.b 12;", "(", "\"", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		id, rest, err := ParseAuthservID(body)
		if err != nil {
			return
		}
		if id == "" || len(rest) >= len(body) {
			t.Fatalf("%q: id %q rest %q", body, id, rest)
		}
		if theirs, _, err := authres.Parse(body); err == nil && strings.EqualFold(strings.TrimSuffix(theirs, "."), "mx.example.test") &&
			!ClaimsAuthservID(body, "mx.example.test") {
			t.Fatalf("%q: go-msgauth reads mx.example.test, we read %q", body, id)
		}
	})
}
