package mimeutil

import "testing"

func TestWithoutComments(t *testing.T) {
	for in, want := range map[string]string{
		"<user-from (comment)@ (comment) domain.org>": "<user-from@domain.org>",
		`"Real (not a comment)" <a@b.org>`:            `"Real (not a comment)" <a@b.org>`,
		`a (nested (comment) \) here) @ b . org`:      "a@b.org",
		"x (unbalanced":                               "x",
		"plain@example.org":                           "plain@example.org",
	} {
		if got := WithoutComments(in); got != want {
			t.Errorf("WithoutComments(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzWithoutComments(f *testing.F) {
	f.Add("<user-from (comment)@ (comment) domain.org>")
	f.Add(`"q\"(" (c\)(d)) x @ y`)
	f.Fuzz(func(t *testing.T, v string) {
		if out := WithoutComments(v); len(out) > len(v) {
			t.Fatalf("%q grew to %q", v, out)
		}
	})
}
