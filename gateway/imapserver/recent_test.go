package imapserver_test

import (
	"strings"
	"testing"
)

// \Recent (IMAP4rev1): a new message is recent for the first session that selects its
// mailbox, and for that one only; EXAMINE shows without claiming; a client that enabled
// IMAP4rev2 neither sees nor claims it.
func TestRecentForIMAP4rev1Clients(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	appendMsg(t, c, "INBOX", simpleMsg("one", "1"), nil)
	appendMsg(t, c, "INBOX", simpleMsg("two", "2"), nil)
	dial := func() *raw {
		r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
		r.cmd("l", "LOGIN alice@localhost "+alicePW)
		return r
	}
	all := func(lines []string) string { return strings.Join(lines, "\n") }

	rev2 := dial()
	rev2.cmd("e", "ENABLE IMAP4rev2")
	if out := all(rev2.cmd("s", "SELECT INBOX")) + all(rev2.cmd("f", "FETCH 1:* FLAGS")); strings.Contains(out, "Recent") || strings.Contains(out, "2 RECENT") {
		t.Fatalf("an IMAP4rev2 client is shown \\Recent:\n%s", out)
	}

	ex := dial()
	if out := all(ex.cmd("x", "EXAMINE INBOX")); !strings.Contains(out, "* 2 RECENT") {
		t.Fatalf("EXAMINE before anyone claimed:\n%s", out)
	}
	first := dial()
	if out := all(first.cmd("s", "SELECT INBOX")); !strings.Contains(out, "* 2 RECENT") {
		t.Fatalf("first SELECT after the IMAP4rev2 one:\n%s", out)
	}
	if out := all(first.cmd("f", "FETCH 1:* FLAGS")); strings.Count(out, `\Recent`) != 2 {
		t.Fatalf("FETCH FLAGS of the first session:\n%s", out)
	}
	if out := all(first.cmd("r", "SEARCH RECENT")); !strings.Contains(out, "* SEARCH 1 2") {
		t.Fatalf("SEARCH RECENT:\n%s", out)
	}
	second := dial()
	if out := all(second.cmd("s", "SELECT INBOX")); !strings.Contains(out, "* 0 RECENT") {
		t.Fatalf("second SELECT:\n%s", out)
	}
	if out := all(second.cmd("t", "STATUS Archive (RECENT)")) + all(second.cmd("u", "SEARCH NEW")); strings.Contains(out, "SEARCH 1") {
		t.Fatalf("second session finds recent messages:\n%s", out)
	}

	// A message that arrives while the first session is selected is its, announced with
	// EXISTS and RECENT.
	appendMsg(t, c, "INBOX", simpleMsg("three", "3"), nil)
	if out := all(first.cmd("n", "NOOP")); !strings.Contains(out, "* 3 EXISTS") || !strings.Contains(out, "* 3 RECENT") {
		t.Fatalf("NOOP after a new message:\n%s", out)
	}
	if out := all(second.cmd("n", "NOOP")) + all(second.cmd("f", "FETCH 3 FLAGS")); strings.Contains(out, `\Recent`) {
		t.Fatalf("the second session is shown a message the first claimed:\n%s", out)
	}
	// CLOSE after EXAMINE is no error (nothing may be expunged).
	if out := ex.cmd("c", "CLOSE"); !strings.HasPrefix(out[len(out)-1], "c OK") {
		t.Fatalf("CLOSE after EXAMINE: %q", out)
	}
}

// An expunge that lowers an IMAP4rev1 session's recent count is followed by the new RECENT
// count; once the session enables IMAP4rev2 while selected, \Recent is gone from its FETCH.
func TestRecentAfterExpungeAndEnable(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	appendMsg(t, c, "INBOX", simpleMsg("one", "1"), nil)
	appendMsg(t, c, "INBOX", simpleMsg("two", "2"), nil)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("l", "LOGIN alice@localhost "+alicePW)
	all := func(lines []string) string { return strings.Join(lines, "\n") }
	if out := all(r.cmd("s", "SELECT INBOX")); !strings.Contains(out, "* 2 RECENT") {
		t.Fatalf("SELECT:\n%s", out)
	}
	r.cmd("d", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	if out := all(r.cmd("x", "EXPUNGE")); !strings.Contains(out, "* 1 EXPUNGE\n* 1 RECENT") {
		t.Fatalf("EXPUNGE of a recent message:\n%s", out)
	}
	r.cmd("e", "ENABLE IMAP4rev2")
	if out := all(r.cmd("f", "FETCH 1 FLAGS")); strings.Contains(out, `\Recent`) {
		t.Fatalf("\\Recent shown after ENABLE IMAP4rev2:\n%s", out)
	}
}
