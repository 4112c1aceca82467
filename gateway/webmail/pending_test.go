package webmail_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/webmail"
)

// TestSearchLargeUnindexed: a search and a sort by subject in a mailbox whose unindexed text
// is larger than a search may hold in memory read the messages a few at a time, as IMAP
// SEARCH does: every message is found, and the listing indexes nothing itself (the
// background indexer, which does not run here, does that).
func TestSearchLargeUnindexed(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	st, err := mailstore.Open(filepath.Join(t.TempDir(), "data"), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, err := auth.HashPassword(alicePW)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.AddUser(ctx, mustAddr(alice), hash)
	if err != nil {
		t.Fatal(err)
	}
	// 18 messages of 4 MiB of text each, more than 64 MiB together.
	const n = 18
	filler := strings.Repeat("lorem ipsum dolor sit amet\n", 4<<20/27+1)
	for i := range n {
		word := "haystack"
		if i == n-1 {
			word = "pineapple"
		}
		msg := fmt.Sprintf("From: Carol <carol@remote.test>\r\nTo: %s\r\nSubject: big %02d\r\n\r\n%s %s\r\n%s", alice, n-i, word, word, filler)
		if _, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes([]byte(msg)),
			Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	ix := mailindex.New(st, mailindex.Options{})
	b := e.browserOn(t, webmail.Options{Store: st, Index: ix, Auth: auth.New(auth.Options{Accounts: st})})
	b.mustLogin(alice, alicePW)
	if got := rowRE.FindAllStringSubmatch(b.get("/mail/?box=INBOX&q=pineapple").body, -1); len(got) != 1 || got[0][1] != fmt.Sprint(n) {
		t.Fatalf("search pineapple = %v", got)
	}
	asc := b.get("/mail/?box=INBOX&sort=subject&order=asc").body
	if i1, i2 := strings.Index(asc, "big 01"), strings.Index(asc, "big 02"); i1 < 0 || i2 < 0 || i1 > i2 {
		t.Fatal("subject ascending order wrong")
	}
	inbox, err := st.MailboxByName(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := ix.Unindexed(ctx, inbox.ID, inbox.UIDValidity); err != nil || len(ids) != n {
		t.Fatalf("after the listings %d of %d messages are unindexed (%v): the listing indexed in the foreground", len(ids), n, err)
	}
}

// browserOn is a browser on a web mail server of its own, built from opts: what opts leaves
// out (Keys, Pipeline, IsLocalDomain) is the test gateway's, or does nothing.
func (e *env) browserOn(t *testing.T, opts webmail.Options) *browser {
	t.Helper()
	opts.Keys, opts.Pipeline, opts.IsLocalDomain, opts.PlaintextAuthOnLoopback = e.GW.Keyring(), nopPipeline{}, e.Config.IsLocalDomain, true
	wm, err := webmail.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wm)
	t.Cleanup(srv.Close)
	b := e.browser(t)
	b.base = srv.URL
	return b
}
