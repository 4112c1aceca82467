package mailindex_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailindex"
)

// TestRunFillsSearchFields: messages indexed before the store kept their header fields apart
// (the rows removed here) get them when an indexer starts, and SEARCH FROM then answers from
// them.
func TestRunFillsSearchFields(t *testing.T) {
	const n = 300 // more than one batch
	env := start(t, "embedded")
	env.AddUser("fill@localhost", "fill-secret-pw")
	inbox := env.DeliverMany(t, "fill@localhost", n, burstMessage).ID
	st := env.Embedded()
	if err := env.GW.Index().IndexMailbox(t.Context(), 0, 0); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Dir, "mail.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM imap_search_fields`); err != nil {
		t.Fatal(err)
	}
	count := func() (hits, unknown int) {
		fm, err := st.SearchFieldUIDs(t.Context(), inbox, "from", "example.org")
		if err != nil {
			t.Fatal(err)
		}
		return len(fm.Hits), len(fm.Unknown)
	}
	if hits, unknown := count(); hits != 0 || unknown != n {
		t.Fatalf("before the indexer runs: %d hits, %d unknown", hits, unknown)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- mailindex.New(st, mailindex.Options{}).Run(ctx) }()
	defer func() { cancel(); <-done }()
	hits, unknown := count()
	for deadline := time.Now().Add(10 * time.Second); unknown > 0 && time.Now().Before(deadline); hits, unknown = count() {
		time.Sleep(20 * time.Millisecond)
	}
	if hits != n || unknown != 0 {
		t.Fatalf("after the indexer started: %d hits, %d unknown", hits, unknown)
	}
}
