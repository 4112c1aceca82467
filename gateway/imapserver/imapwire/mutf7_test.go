package imapwire

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestMUTF7(t *testing.T) {
	for _, tc := range []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"pää", "p&AOQA5A-"},
		{"A&B", "A&-B"},
		{"日本語", "&ZeVnLIqe-"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"😀", "&2D3eAA-"},
		{"", ""},
	} {
		if got := EncodeMUTF7(tc.utf8); got != tc.mutf7 {
			t.Errorf("encode %q: %q, want %q", tc.utf8, got, tc.mutf7)
		}
		if got, err := DecodeMUTF7(tc.mutf7); err != nil || got != tc.utf8 {
			t.Errorf("decode %q: %q %v, want %q", tc.mutf7, got, err, tc.utf8)
		}
	}
	for _, bad := range []string{
		"&", "&AOQ", "&AGE-", "&'+,-", "p\xc3\xa4", "&2D0-", "&3gA-", "&AOQB-", "a\tb", "&Jjo!-",
	} {
		if got, err := DecodeMUTF7(bad); !errors.Is(err, ErrBadMUTF7) {
			t.Errorf("decode %q: %q %v, want ErrBadMUTF7", bad, got, err)
		}
	}
}

// FuzzMUTF7: decoding never panics, what decodes is valid UTF-8 and re-encodes to the
// same name, and every UTF-8 name survives an encode/decode round trip.
func FuzzMUTF7(f *testing.F) {
	for _, s := range []string{"p&AOQA5A-", "&-", "&2D3eAA-", "&", "&AOQ", "INBOX", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dec, err := DecodeMUTF7(s); err == nil {
			if !utf8.ValidString(dec) {
				t.Fatalf("%q decoded to invalid UTF-8 %q", s, dec)
			}
			if again := EncodeMUTF7(dec); again != s {
				t.Fatalf("%q -> %q -> %q", s, dec, again)
			}
		}
		if utf8.ValidString(s) {
			if back, err := DecodeMUTF7(EncodeMUTF7(s)); err != nil || back != s {
				t.Fatalf("round trip of %q: %q %v", s, back, err)
			}
		}
	})
}
