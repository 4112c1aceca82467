package mailindex_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// TestRunFillsSearchFields: messages indexed before the store kept their header fields apart
// (the rows removed here) get them when the indexer starts, and SEARCH FROM then answers from
// them.
func TestRunFillsSearchFields(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, _ := address.Parse("u@x.test")
	u, err := st.AddUser(ctx, a, "hash")
	if err != nil {
		t.Fatal(err)
	}
	const n = 300 // more than one batch
	for i := range n {
		if _, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: strBody(burstMessage(i)),
			Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	mb, err := st.MailboxByName(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ix := mailindex.New(st, mailindex.Options{})
	if err := ix.IndexMailbox(ctx, mb.ID, 0); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mail.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM imap_search_fields`); err != nil {
		t.Fatal(err)
	}
	fm, err := st.SearchFieldUIDs(ctx, mb.ID, "from", "example.org")
	if err != nil || len(fm.Unknown) != n || len(fm.Hits) != 0 {
		t.Fatalf("before the indexer runs: %d unknown, %d hits, %v", len(fm.Unknown), len(fm.Hits), err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		fm, err = st.SearchFieldUIDs(ctx, mb.ID, "from", "example.org")
		if err != nil {
			t.Fatal(err)
		}
		if len(fm.Unknown) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(fm.Unknown) != 0 || len(fm.Hits) != n {
		t.Fatalf("after the indexer started: %d unknown, %d hits", len(fm.Unknown), len(fm.Hits))
	}
}
