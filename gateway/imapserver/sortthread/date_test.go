package sortthread

import (
	"testing"
	"time"
)

// The rows are RFC 5322 dates and the broken forms Dovecot accepts; TestAgainstDovecot
// checks that both order the same messages the same way.
func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC, "" when it does not parse
	}{
		{"Fri, 22 Feb 2008 02:00:00 +0200", "2008-02-22T00:00:00Z"},
		{"22 Feb 2008 02:00:00 +0200", "2008-02-22T00:00:00Z"},
		{"Fri,  1 Mar 2024 03:00 -0130", "2024-03-01T04:30:00Z"},
		{"Fri, 1 Mar 24 03:00:00 +0000", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 99 03:00:00 +0000", "1999-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 +0000 (UTC)", "2024-03-01T03:00:00Z"},
		{"(x) Fri (y), (z) 1 Mar 2024 03:00:00 GMT", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 EST", "2024-03-01T08:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 PDT", "2024-03-01T10:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 UT", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 CET", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 z", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 A", "2024-03-01T02:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00 N", "2024-03-01T04:00:00Z"},
		{"Fri, 1 Mar 2024 03:00:00", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 3.00.00 +0000", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 23:59:60 +0000", "2024-03-02T00:00:00Z"},
		{"Fri, 1 March 2024 03:00:00 +0000", "2024-03-01T03:00:00Z"},
		{"Fri, 1 Mar 2024 3:0:0 +0100", ""},
		{"Fri 1 Mar 2024 03:00:00 +0000", ""},
		{"1 Mar 2024", ""},
		{"1 Mar 1899 03:00:00 +0000", ""},
		{"1 Mar 202 03:00:00 +0000", ""},
		{"1 Foo 2024 03:00:00 +0000", ""},
		{"not a date", ""},
		{"", ""},
		{"(unterminated", ""},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		s := ""
		if ok {
			s = got.UTC().Format(time.RFC3339)
		}
		if s != tt.want {
			t.Errorf("parseDate(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}
