package imapserver_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestFlagSearchSeesOtherSession: a search by flags alone, answered from the session's view
// when the mailbox has not changed, finds flags another session set since the last command,
// and the client's own STORE as well, in SEARCH and ESEARCH form.
func TestFlagSearchSeesOtherSession(t *testing.T) {
	env := start(t)
	for _, s := range []string{"one", "two", "three"} {
		deliver(t, env, "alice@localhost", simpleMsg(s, s))
	}
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	r.cmd("a2", "SELECT INBOX")
	search := func(tag, criteria, want string) {
		t.Helper()
		lines := r.cmd(tag, criteria)
		if len(lines) != 2 || lines[0] != want || !strings.HasPrefix(lines[1], tag+" OK") {
			t.Fatalf("%s: %q, want %q", criteria, lines, want)
		}
	}
	search("a3", "SEARCH FLAGGED", "* SEARCH")
	search("a4", "SEARCH UNSEEN", "* SEARCH 1 2 3")
	other := login(t, env, "alice@localhost", alicePW)
	mustSelect(t, other, "INBOX")
	if err := other.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagSeen, "$Work"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	// The other session's change comes as untagged FETCH and FLAGS responses too.
	lines := r.cmd("a5", "SEARCH FLAGGED")
	if !slices.Contains(lines, "* SEARCH 2") {
		t.Fatalf("the other session's flag not found: %q", lines)
	}
	search("a6", "SEARCH UNSEEN", "* SEARCH 1 3")
	search("a7", "SEARCH KEYWORD $Work", "* SEARCH 2")
	r.cmd("a8", `STORE 1,3 +FLAGS.SILENT (\Answered)`)
	search("a9", "UID SEARCH RETURN (COUNT ALL) ANSWERED NOT FLAGGED", `* ESEARCH (TAG "a9") UID ALL 1,3 COUNT 2`)
	search("b1", "SEARCH OR ANSWERED FLAGGED", "* SEARCH 1 2 3")
	search("b2", "SEARCH NOT SEEN", "* SEARCH 1 3")
}
