package mailindex_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// walkCounter is the embedded store, counting the walks over every mailbox's messages that
// look for bodies not indexed.
type walkCounter struct {
	*mailstore.Store
	walks atomic.Int32
}

func (w *walkCounter) UnindexedBodies(ctx context.Context, mailboxID int64, limit int) ([]int64, error) {
	w.walks.Add(1)
	return w.Store.UnindexedBodies(ctx, mailboxID, limit)
}

// TestCatchUpWalksOnce: the indexer's catch-up over every mailbox finds many batches in one
// walk over the messages; a walk per batch passed every message indexed before each time.
func TestCatchUpWalksOnce(t *testing.T) {
	ctx := t.Context()
	st, err := mailstore.Open(filepath.Join(t.TempDir(), "data"), mailstore.Options{})
	st = storetest.Opened(t, st, err)
	var targets []mailstore.Target
	for _, a := range []string{"a@x.test", "b@x.test"} {
		addr, _ := address.Parse(a)
		u, err := st.AddUser(ctx, addr, "hash")
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, mailstore.Target{UserID: u.ID})
	}
	const n = 700 // bodies, in each of two mailboxes: more than two batches
	for i := range n {
		if _, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: strBody(burstMessage(i)), Local: targets}}}); err != nil {
			t.Fatal(err)
		}
	}
	w := &walkCounter{Store: st}
	if err := mailindex.New(w, mailindex.Options{}).IndexMailbox(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if left, err := st.UnindexedBodies(ctx, 0, 10); err != nil || len(left) != 0 {
		t.Fatalf("not indexed after the catch-up: %v %v", left, err)
	}
	if got := w.walks.Load(); got != 2 {
		t.Errorf("%d walks over the messages, want 2 (one finding every body, one finding none)", got)
	}
}
