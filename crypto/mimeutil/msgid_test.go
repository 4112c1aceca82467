package mimeutil

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMsgIDList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"<a@b>", []string{"a@b"}, false},
		{" (c) <a.b@[127.0.0.1]> (d) <x@y>", []string{"a.b@[127.0.0.1]", "x@y"}, false},
		{"<a@b>(x)<c@d>", []string{"a@b", "c@d"}, false},
		{"<ü@例え.jp>", []string{"ü@例え.jp"}, false},
		{"<x@y> junk <z@w>", []string{"x@y"}, true},
		{"<a@b> (unclosed", nil, true},
		{"no-brackets@example.org", nil, true},
		{"<@b>", nil, true},
		{"<a@>", nil, true},
		{"<a@b", nil, true},
		{"<\xff@b>", nil, true},
		{"<a@[\xff]>", nil, true},
		{"<a@[]>", []string{"a@[]"}, false},
		{`<a\b@c>`, nil, true},
	} {
		got, err := MsgIDList(tc.in)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) || (err != nil) != tc.bad {
			t.Errorf("MsgIDList(%q) = %q, %v; want %q, bad %v", tc.in, got, err, tc.want, tc.bad)
		}
		if err != nil && !errors.Is(err, ErrBadMsgID) {
			t.Errorf("MsgIDList(%q): error %v is not ErrBadMsgID", tc.in, err)
		}
	}
	if id, err := MsgID(" <only@one> "); id != "only@one" || err != nil {
		t.Errorf("MsgID = %q, %v", id, err)
	}
}

// FuzzMsgIDList: every identifier found is "left@right", valid UTF-8, and stands in the input.
func FuzzMsgIDList(f *testing.F) {
	for _, s := range []string{"<a@b>", "(c) <a@[1.2.3.4]> <x@y>", "<a@b> (", "<ü@例>", "<<@>>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ids, _ := MsgIDList(v)
		for _, id := range ids {
			if !strings.Contains(id, "@") || !utf8.ValidString(id) || !strings.Contains(v, "<"+id+">") {
				t.Fatalf("MsgIDList(%q) gave %q", v, id)
			}
		}
	})
}
