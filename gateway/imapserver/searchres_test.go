package imapserver_test

import (
	"strings"
	"testing"
)

// SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) answers nothing but OK and keeps its result;
// "$" names it in FETCH, STORE, COPY, SEARCH and UID commands; the result follows expunges,
// MIN/MAX save only those messages, and SELECT starts with the empty set.
func TestSearchRes(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	for _, s := range []string{"one", "two", "three", "four", "five"} {
		appendMsg(t, c, "INBOX", simpleMsg(s, s), nil)
	}
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	if out := strings.Join(r.cmd("l", "LOGIN alice@localhost "+alicePW), "\n"); !strings.Contains(out, " SEARCHRES") {
		t.Fatalf("SEARCHRES not advertised:\n%s", out)
	}
	r.cmd("s", "SELECT INBOX")
	r.cmd("f", `STORE 2,4,5 +FLAGS.SILENT (\Flagged)`)
	check := func(tag, cmd string, want ...string) {
		t.Helper()
		out := r.cmd(tag, cmd)
		if last := out[len(out)-1]; !strings.HasPrefix(last, tag+" OK") {
			t.Fatalf("%s: %q", cmd, out)
		}
		got := out[:len(out)-1]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n got %q\nwant %q", cmd, got, want)
		}
	}
	check("a", "SEARCH RETURN (SAVE) FLAGGED")
	check("b", "FETCH $ (FLAGS)", `* 2 FETCH (UID 2 FLAGS (\Recent \Flagged))`, `* 4 FETCH (UID 4 FLAGS (\Recent \Flagged))`,
		`* 5 FETCH (UID 5 FLAGS (\Recent \Flagged))`)
	check("c", "SEARCH $ NOT 5", "* SEARCH 2 4")
	check("d", "UID SEARCH OR $ 1", "* SEARCH 1 2 4 5")
	check("e", `STORE $ +FLAGS.SILENT (\Seen)`)
	check("g", "SEARCH SEEN", "* SEARCH 2 4 5")
	// The saved result follows an expunge: message 2 goes, 4 and 5 become 3 and 4.
	check("h", `STORE 2 +FLAGS.SILENT (\Deleted)`)
	check("i", "EXPUNGE", "* 2 EXPUNGE", "* 4 RECENT")
	check("j", "SEARCH $", "* SEARCH 3 4")
	out := r.cmd("k", "UID COPY $ INBOX")
	if last := out[len(out)-1]; !strings.HasPrefix(last, "k OK [COPYUID ") || !strings.Contains(last, " 4:5 6:7]") {
		t.Fatalf("UID COPY $: %q", out)
	}
	check("m", "UID SEARCH RETURN (MIN MAX SAVE) UID 1:*", "* ESEARCH (TAG \"m\") UID MIN 1 MAX 7")
	check("n", "SEARCH $", "* SEARCH 1 6")
	r.cmd("o", "SELECT INBOX")
	check("p", "SEARCH $", "* SEARCH")
}
