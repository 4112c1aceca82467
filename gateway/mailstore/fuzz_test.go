package mailstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidMailboxName: every accepted name is safe to use as a path-like hierarchy: valid
// UTF-8 without controls, no empty, "." or ".." levels, bounded length and depth.
func FuzzValidMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b/c", "../x", "a//b", "Ünï/cödé", "x\x00y", strings.Repeat("a/", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !ValidMailboxName(name) {
			return
		}
		if !utf8.ValidString(name) || len(name) > 255 || strings.ContainsAny(name, "\x00\r\n\t*%\\\\") {
			t.Fatalf("accepted %q", name)
		}
		levels := strings.Split(name, "/")
		if len(levels) > 16 {
			t.Fatalf("accepted %d levels", len(levels))
		}
		for _, l := range levels {
			if l == "" || l == "." || l == ".." {
				t.Fatalf("accepted level %q in %q", l, name)
			}
		}
	})
}
