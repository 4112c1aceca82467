package imapserver_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver"
)

// TestSearchAcrossChunks: SEARCH reads a mailbox a chunk at a time; hits in every chunk, at
// chunk boundaries and past an expunged message come back with the right sequence numbers,
// whether the index covers the messages or the search reads them itself, and a header
// criterion the index narrows down still checks the named field.
func TestSearchAcrossChunks(t *testing.T) {
	env := start(t)
	st := env.GW.Store()
	ctx := context.Background()
	n := imapserver.SearchChunk + 100
	// "needle" is in the body of some messages; which sequence numbers they get (delivery is
	// concurrent) is read back with FETCH ENVELOPE below.
	needle := map[int]bool{0: true, imapserver.SearchChunk - 1: true, imapserver.SearchChunk: true, n - 1: true, 7: true}
	inbox := env.DeliverMany(t, "alice@localhost", n, func(i int) string {
		word := "haystack"
		if needle[i] {
			word = "needle"
		}
		return fmt.Sprintf("From: s%d@example.org\r\nTo: alice@localhost\r\nSubject: number %d example.org\r\n"+
			"Message-ID: <m%d@example.org>\r\n\r\nbody %s\r\n", i, i, i, word)
	})
	msgs, err := st.Messages(ctx, inbox.ID)
	if err != nil || len(msgs) != n {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	c := login(t, env, "alice@localhost", alicePW)
	mustSelect(t, c, "INBOX")
	// Expunge the message at sequence number 3.
	if err := c.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	// What each message holds, by sequence number now.
	var want struct{ needle, m42, from7 []uint32 }
	fetched := fetchAll(t, c, imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true})
	if len(fetched) != n-1 {
		t.Fatalf("%d messages after the expunge", len(fetched))
	}
	for _, m := range fetched {
		var i int
		if _, err := fmt.Sscanf(m.Envelope.Subject, "number %d", &i); err != nil {
			t.Fatal(err)
		}
		if needle[i] {
			want.needle = append(want.needle, m.SeqNum)
		}
		if i == 42 || i == n-2 {
			want.m42 = append(want.m42, m.SeqNum)
		}
		if i == 7 {
			want.from7 = append(want.from7, m.SeqNum)
		}
	}
	hdr := func(k, v string) *imap.SearchCriteria {
		return &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}}
	}
	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			name string
			crit *imap.SearchCriteria
			want []uint32
		}{
			{"BODY", &imap.SearchCriteria{Body: []string{"needle"}}, want.needle},
			{"Message-ID", &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{*hdr("Message-ID", "<m42@"), *hdr("Message-ID", fmt.Sprintf("<m%d@", n-2))}}}, want.m42},
			{"FROM", hdr("From", "s7@example.org"), want.from7},
			{"Subject without the From value", hdr("Subject", "s7@example"), nil},
		} {
			if got := searchSeqs(t, c, tc.crit); !slices.Equal(got, tc.want) {
				t.Errorf("%s, %s: got %v, want %v", tc.name, when, got, tc.want)
			}
		}
		d, err := c.Search(hdr("From", "example.org"), &imap.SearchOptions{ReturnCount: true, ReturnMin: true, ReturnMax: true}).Wait()
		if err != nil || d.Count != uint32(n-1) || d.Min != 1 || d.Max != uint32(n-1) {
			t.Errorf("ESEARCH, %s: %+v %v", when, d, err)
		}
	}
	check("pending")
	if err := env.GW.Index().IndexMailbox(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	check("indexed")
	// SUBJECT is answered from the header fields the store keeps apart, not from the header
	// text: a subject changed there only is what it finds. With the kept fields of the first
	// chunk gone (as in a store from before they were kept), it compares those messages'
	// header text.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Dir, "mail.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE imap_search_fields SET hdr_subject = 'number 42 blanked'`)
	if got := searchSeqs(t, c, hdr("From", "s7@example.org")); !slices.Equal(got, want.from7) {
		t.Errorf("FROM from the kept fields: %v, want %v", got, want.from7)
	}
	if got := searchSeqs(t, c, hdr("Subject", "blanked")); len(got) != n-1 {
		t.Errorf("SUBJECT from the kept fields: %d hits, want %d", len(got), n-1)
	}
	exec(`DELETE FROM imap_search_fields WHERE id IN (SELECT body_id FROM messages WHERE uid <= ?)`, imapserver.SearchChunk)
	check("fields of the first chunk not kept")
	if got := searchSeqs(t, c, hdr("Subject", "blanked")); len(got) != n-1-(imapserver.SearchChunk-1) {
		t.Errorf("SUBJECT, fields of the first chunk not kept: %d hits, want %d", len(got), n-imapserver.SearchChunk)
	}
}

// TestFlagsFetchSeesOtherSession: a flags-only FETCH, answered from the session's view when
// the mailbox has not changed, reports flags another session set since the last command, in
// the FETCH response itself, and the client's own STORE as well.
func TestFlagsFetchSeesOtherSession(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("one", "first"))
	deliver(t, env, "alice@localhost", simpleMsg("two", "second"))
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	r.cmd("a2", "SELECT INBOX")
	flagsOf := func(tag string) string {
		t.Helper()
		lines := r.cmd(tag, "UID FETCH 1:* (FLAGS)")
		for _, l := range lines {
			if strings.HasPrefix(l, "* 2 FETCH") {
				return l
			}
		}
		t.Fatalf("no FETCH of message 2: %q", lines)
		return ""
	}
	if l := flagsOf("a3"); strings.Contains(l, `\Flagged`) {
		t.Fatalf("flagged before: %s", l)
	}
	other := login(t, env, "alice@localhost", alicePW)
	mustSelect(t, other, "INBOX")
	if err := other.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if l := flagsOf("a4"); !strings.Contains(l, `\Flagged`) {
		t.Fatalf("the other session's flag not in the FETCH: %s", l)
	}
	r.cmd("a5", `STORE 2 +FLAGS.SILENT (\Answered)`)
	if l := flagsOf("a6"); !strings.Contains(l, `\Answered`) || !strings.Contains(l, `\Flagged`) {
		t.Fatalf("own STORE not in the FETCH: %s", l)
	}
	if l := flagsOf("a7"); !strings.Contains(l, `\Answered`) || !strings.Contains(l, `\Flagged`) {
		t.Fatalf("from the view: %s", l)
	}
}
