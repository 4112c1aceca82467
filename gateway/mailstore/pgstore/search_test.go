package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
)

// A body whose last message another transaction deletes while PutSearchText stores its
// text (an EXPUNGE on another node while the indexer runs) is skipped, as the contract says,
// instead of failing the whole batch on the search index's foreign key.
func TestPutSearchTextSkipsBodyDeletedMeanwhile(t *testing.T) {
	dsn := newDB(t)
	s := openNode(t, dsn, pgstore.Options{Node: "a"})
	u := addUser(t, s, "race@x.test")
	deliver(t, s, u.ID, "Subject: going\r\n\r\nsoon gone\r\n")
	deliver(t, s, u.ID, "Subject: staying\r\n\r\nstill here\r\n")
	ctx := context.Background()
	ids, err := s.UnindexedBodies(ctx, 0, 10)
	if err != nil || len(ids) != 2 {
		t.Fatalf("unindexed bodies %v, %v", ids, err)
	}
	gone, kept := min(ids[0], ids[1]), max(ids[0], ids[1])

	// Another node's transaction deletes the first body's only message and holds on.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE body_id = $1`, gone); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		done <- s.PutSearchText(ctx, []mailstore.SearchText{
			{BodyID: gone, Header: "subject: going", Text: "soon gone", Envelope: []byte("e")},
			{BodyID: kept, Header: "subject: staying", Text: "still here", Envelope: []byte("e")},
		})
	}()
	// PutSearchText waits for the deleting transaction's row lock; then the deletion commits.
	waitForLockWait(t, dsn)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("PutSearchText with a body deleted meanwhile: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("PutSearchText did not return")
	}
	left, err := s.UnindexedBodies(ctx, 0, 10)
	if err != nil || len(left) != 0 {
		t.Fatalf("after PutSearchText, unindexed bodies %v, %v; want none", left, err)
	}
}

// waitForLockWait returns once a session of the database dsn waits for a lock.
func waitForLockWait(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("nothing waited for the deleting transaction's lock")
}
