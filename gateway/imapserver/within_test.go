package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// WITHIN (RFC 5032): OLDER and YOUNGER count seconds back from now against the internal
// date, alone, negated and next to SINCE/BEFORE.
func TestSearchWithin(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	if out := strings.Join(r.cmd("l", "LOGIN alice@localhost "+alicePW), "\n"); !strings.Contains(out, " WITHIN") {
		t.Fatalf("WITHIN not advertised:\n%s", out)
	}
	old := "Subject: old\r\n\r\nold\r\n"
	r.cmd("a", fmt.Sprintf("APPEND INBOX \"01-Jan-2020 12:00:00 +0000\" {%d+}\r\n%s", len(old), old))
	// Two hours ago: older than an hour, younger than a day, whatever the clock says now.
	hours := time.Now().Add(-2 * time.Hour).UTC().Format("02-Jan-2006 15:04:05 -0700")
	r.cmd("b", fmt.Sprintf("APPEND INBOX \"%s\" {%d+}\r\n%s", hours, len(old), old))
	r.cmd("c", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(old), old))
	r.cmd("s", "SELECT INBOX")
	for _, c := range []struct{ search, want string }{
		{"YOUNGER 3600", "* SEARCH 3"},
		{"YOUNGER 86400", "* SEARCH 2 3"},
		{"OLDER 3600", "* SEARCH 1 2"},
		{"NOT OLDER 86400", "* SEARCH 2 3"},
		{"OLDER 3600 YOUNGER 86400", "* SEARCH 2"},
		{"OR OLDER 86400 YOUNGER 60", "* SEARCH 1 3"},
		{"OLDER 3600 SINCE 1-Jan-2021", "* SEARCH 2"},
		{"YOUNGER 86400 BEFORE 1-Jan-2021", "* SEARCH"},
	} {
		if out := r.cmd("x", "SEARCH "+c.search); out[0] != c.want || !strings.HasPrefix(out[len(out)-1], "x OK") {
			t.Errorf("SEARCH %s: %q, want %q", c.search, out, c.want)
		}
	}
	if out := r.cmd("z", "SEARCH OLDER 0"); !strings.HasPrefix(out[0], "z BAD") {
		t.Errorf("SEARCH OLDER 0: %q", out)
	}
}
