package imapserver_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// onBothStores runs f against the embedded store and against PostgreSQL.
func onBothStores(t *testing.T, f func(t *testing.T, env *gatewaytest.Env)) {
	t.Run("embedded", func(t *testing.T) { f(t, startOn(t, nil)) })
	t.Run("postgres", func(t *testing.T) {
		f(t, startOn(t, &config.Storage{Backend: config.BackendPostgres, DSN: gatewaytest.PostgresDSN(t)}))
	})
}

// modSeqSessions gives a fresh account n messages in INBOX and returns a function that logs
// a raw session in as that account.
func modSeqSessions(t *testing.T, env *gatewaytest.Env, n int) func() *raw {
	t.Helper()
	const user, pw = "ms@localhost", "ms-secret-pw"
	env.AddUser(user, pw)
	dial := func() *raw {
		r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
		if l := r.cmd("l", "LOGIN "+user+" "+pw); !strings.HasPrefix(l[len(l)-1], "l OK") {
			t.Fatalf("login: %q", l)
		}
		return r
	}
	a := dial()
	for i := range n {
		msg := strings.ReplaceAll(simpleMsg(fmt.Sprint("m", i), "x"), "\n", "\r\n")
		if l := a.cmd("a", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg)); !strings.HasPrefix(l[len(l)-1], "a OK") {
			t.Fatalf("append: %q", l)
		}
	}
	a.cmd("o", "LOGOUT")
	return dial
}

var highestRE = regexp.MustCompile(`\* OK \[HIGHESTMODSEQ (\d+)\]`)

func highestModSeq(t *testing.T, lines []string) uint64 {
	t.Helper()
	for _, l := range lines {
		if m := highestRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no HIGHESTMODSEQ in %q", lines)
	return 0
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// A QRESYNC client that was away while another session expunged messages and changed
// flags learns exactly that on SELECT: the expunged UIDs as VANISHED (EARLIER), the
// changed message's flags with its MODSEQ, nothing about the rest nor about messages outside
// the UIDs it says it knows (imaptest's cached views count on that); later expunges come as
// VANISHED, never EXPUNGE.
func TestQResyncAfterAnotherSessionsChanges(t *testing.T) {
	onBothStores(t, func(t *testing.T, env *gatewaytest.Env) {
		dial := modSeqSessions(t, env, 5)
		a, b := dial(), dial()
		wantLines(t, "ENABLE", a.cmd("e", "ENABLE QRESYNC"), "* ENABLED QRESYNC", "e OK ENABLE completed")
		sel := a.cmd("s", "EXAMINE INBOX")
		h := highestModSeq(t, sel)
		uv := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(strings.Join(sel, "\n"))[1]
		a.cmd("c", "CLOSE")

		b.cmd("s", "SELECT INBOX")
		b.cmd("d", `UID STORE 1,4 +FLAGS.SILENT (\Deleted)`)
		b.cmd("x", "EXPUNGE")
		b.cmd("f", `UID STORE 3,5 +FLAGS.SILENT (\Flagged)`)
		hb := highestModSeq(t, b.cmd("t", "SELECT INBOX"))

		got := a.cmd("q", "SELECT INBOX (QRESYNC ("+uv+" "+strconv.FormatUint(h, 10)+" 1:4))")
		if highestModSeq(t, got) != hb || !slices.Contains(got, "* 3 EXISTS") {
			t.Fatalf("QRESYNC SELECT: %q (HIGHESTMODSEQ %d)", got, hb)
		}
		tail := got[len(got)-3:]
		wantLines(t, "QRESYNC SELECT's resync", tail[:2], "* VANISHED (EARLIER) 1,4",
			fmt.Sprintf(`* 2 FETCH (UID 3 FLAGS (\Flagged) MODSEQ (%d))`, hb))

		b.cmd("d", `UID STORE 5 +FLAGS.SILENT (\Deleted)`)
		b.cmd("x", "EXPUNGE")
		wantLines(t, "NOOP after another expunge", a.cmd("n", "NOOP"), "* VANISHED 5", "n OK NOOP completed")
		wantLines(t, "UID FETCH VANISHED", a.cmd("v", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatUint(h, 10)+" VANISHED)"),
			"* VANISHED (EARLIER) 1,4:5", fmt.Sprintf(`* 2 FETCH (UID 3 FLAGS (\Flagged) MODSEQ (%d))`, hb), "v OK UID FETCH completed")
		// Once QRESYNC is on, every FETCH carries the UID (RFC 7162 §3.2.4), a STORE's too.
		got = a.cmd("f", `STORE 1 +FLAGS (\Seen)`)
		if len(got) != 2 || !regexp.MustCompile(`^\* 1 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$`).MatchString(got[0]) {
			t.Fatalf("STORE under QRESYNC: %q", got)
		}
		a.cmd("d", `STORE 1:2 +FLAGS.SILENT (\Deleted)`)
		wantLines(t, "own EXPUNGE under QRESYNC", a.cmd("x", "EXPUNGE"), "* VANISHED 2:3", "x OK EXPUNGE completed")
	})
}

// Sessions racing to change the same message with STORE (UNCHANGEDSINCE n): the store's
// compare-and-set lets exactly one through; the others answer [MODIFIED].
func TestStoreUnchangedSinceRace(t *testing.T) {
	onBothStores(t, func(t *testing.T, env *gatewaytest.Env) {
		dial := modSeqSessions(t, env, 1)
		const n = 6
		sessions := make([]*raw, n)
		var h uint64
		for i := range sessions {
			sessions[i] = dial()
			h = highestModSeq(t, sessions[i].cmd("s", "SELECT INBOX (CONDSTORE)"))
		}
		answers := make([]string, n)
		var wg sync.WaitGroup
		for i, r := range sessions {
			wg.Go(func() {
				l := r.cmd("u", fmt.Sprintf("STORE 1 (UNCHANGEDSINCE %d) +FLAGS.SILENT (k%d)", h, i))
				answers[i] = l[len(l)-1]
			})
		}
		wg.Wait()
		won := 0
		for _, a := range answers {
			switch a {
			case "u OK STORE completed":
				won++
			case "u OK [MODIFIED 1] STORE completed":
			default:
				t.Fatalf("answer %q", a)
			}
		}
		if won != 1 {
			t.Fatalf("%d sessions changed the message: %q", won, answers)
		}
	})
}

// Before CONDSTORE is on, flag updates carry no MODSEQ and expunges are EXPUNGE; the first
// CONDSTORE-enabling command in a selected mailbox announces HIGHESTMODSEQ, and from then
// on another session's flag change comes with its MODSEQ.
func TestCondStoreEnablingCommand(t *testing.T) {
	env := start(t)
	dial := modSeqSessions(t, env, 2)
	a, b := dial(), dial()
	a.cmd("e", "ENABLE IMAP4rev2") // no \Recent to match
	h := highestModSeq(t, a.cmd("s", "SELECT INBOX"))
	b.cmd("s", "SELECT INBOX")
	b.cmd("f", `STORE 1 +FLAGS.SILENT (\Seen)`)
	wantLines(t, "update before CONDSTORE", a.cmd("n", "NOOP"), `* 1 FETCH (UID 1 FLAGS (\Seen))`, "n OK NOOP completed")
	got := a.cmd("m", "FETCH 2 (MODSEQ)")
	if len(got) != 3 || !highestRE.MatchString(got[0]) || !regexp.MustCompile(`^\* 2 FETCH \(UID 2 MODSEQ \(\d+\)\)$`).MatchString(got[1]) {
		t.Fatalf("first CONDSTORE-enabling FETCH: %q", got)
	}
	if hm := highestModSeq(t, got); hm <= h {
		t.Fatalf("HIGHESTMODSEQ %d after a change, was %d", hm, h)
	}
	b.cmd("f", `STORE 2 +FLAGS.SILENT (\Flagged)`)
	got = a.cmd("n", "NOOP")
	if len(got) != 2 || !regexp.MustCompile(`^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$`).MatchString(got[0]) {
		t.Fatalf("update after CONDSTORE: %q", got)
	}
	b.cmd("d", `STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.cmd("x", "EXPUNGE")
	wantLines(t, "expunge without QRESYNC", a.cmd("n", "NOOP"), "* 2 EXPUNGE", "n OK NOOP completed")
}

// go-imap's client, as a Go program using CONDSTORE would: SELECT (CONDSTORE) and STATUS
// report the mailbox's HIGHESTMODSEQ, FETCH (CHANGEDSINCE) returns what changed since with
// MODSEQ, and SEARCH MODSEQ answers with the highest MODSEQ of its result.
func TestCondStoreWithImapclient(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	for i := range 3 {
		appendMsg(t, c, "INBOX", simpleMsg(fmt.Sprint("cs", i), "x"), nil)
	}
	if !c.Caps().Has(imap.CapCondStore) || !c.Caps().Has(imap.CapQResync) {
		t.Fatalf("capabilities: %v", c.Caps())
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil || sel.HighestModSeq == 0 {
		t.Fatalf("SELECT (CONDSTORE): %+v %v", sel, err)
	}
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	got := fetchAll(t, c, imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Flags: true, ChangedSince: sel.HighestModSeq})
	if len(got) != 1 || got[0].UID != 2 || got[0].ModSeq <= sel.HighestModSeq {
		t.Fatalf("FETCH (CHANGEDSINCE %d): %+v", sel.HighestModSeq, got)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{HighestModSeq: true}).Wait()
	if err != nil || st.HighestModSeq != got[0].ModSeq {
		t.Fatalf("STATUS HIGHESTMODSEQ: %+v %v, want %d", st, err, got[0].ModSeq)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{ModSeq: &imap.SearchCriteriaModSeq{ModSeq: sel.HighestModSeq + 1}}, nil).Wait()
	if err != nil || !slices.Equal(res.AllUIDs(), []imap.UID{2}) || res.ModSeq != got[0].ModSeq {
		t.Fatalf("UID SEARCH MODSEQ: %+v %v", res, err)
	}
}

// SORT and ESORT with a MODSEQ search key end with the highest MODSEQ of what they return
// (RFC 7162 §3.1.5 and its sort-data grammar), as SEARCH does; without one, nothing is added.
func TestSortWithModSeq(t *testing.T) {
	env := start(t)
	dial := modSeqSessions(t, env, 3)
	a := dial()
	h := highestModSeq(t, a.cmd("s", "SELECT INBOX (CONDSTORE)"))
	a.cmd("f", `STORE 2 +FLAGS.SILENT (\Flagged)`)
	got := a.cmd("o", "SORT (ARRIVAL) UTF-8 MODSEQ "+strconv.FormatUint(h+1, 10))
	changed := regexp.MustCompile(`^\* SORT 2 \(MODSEQ (\d+)\)$`).FindStringSubmatch(got[0])
	if len(got) != 2 || changed == nil {
		t.Fatalf("SORT with MODSEQ: %q", got)
	}
	if n, _ := strconv.ParseUint(changed[1], 10, 64); n <= h {
		t.Fatalf("SORT's MODSEQ %d, not above %d", n, h)
	}
	wantLines(t, "ESORT with MODSEQ", a.cmd("e", "SORT RETURN (COUNT) (ARRIVAL) UTF-8 MODSEQ "+strconv.FormatUint(h+1, 10)),
		`* ESEARCH (TAG "e") COUNT 1 MODSEQ `+changed[1], "e OK SORT completed")
	wantLines(t, "SORT without MODSEQ", a.cmd("p", "SORT (ARRIVAL) UTF-8 ALL"), "* SORT 1 2 3", "p OK SORT completed")
}
