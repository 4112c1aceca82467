package mailindex_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// TestUnindexedAboveCovered: once a search found every message of a mailbox indexed, later
// calls look only above that point, and still return every message delivered since, in
// order; the texts of pending bodies come back one by one.
func TestUnindexedAboveCovered(t *testing.T) {
	ctx := context.Background()
	st, err := mailstore.Open(filepath.Join(t.TempDir(), "data"), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, _ := address.Parse("u@x.test")
	u, err := st.AddUser(ctx, a, "hash")
	if err != nil {
		t.Fatal(err)
	}
	var mb mailstore.Mailbox
	deliver := func(n int) []int64 {
		var ids []int64
		for i := range n {
			d, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: strBody(burstMessage(i)),
				Local: []mailstore.Target{{UserID: u.ID}}}}})
			if err != nil {
				t.Fatal(err)
			}
			if mb, err = st.MailboxByName(ctx, u.ID, "INBOX"); err != nil {
				t.Fatal(err)
			}
			ms, err := st.MessagesInRange(ctx, mb.ID, d.Messages[0].UID, d.Messages[0].UID)
			if err != nil || len(ms) != 1 {
				t.Fatal(ms, err)
			}
			ids = append(ids, ms[0].BodyID)
		}
		return ids
	}
	deliver(5)
	ix := mailindex.New(st, mailindex.Options{})
	if ids, err := ix.Unindexed(ctx, mb.ID, mb.UIDValidity); err != nil || len(ids) != 5 {
		t.Fatalf("before indexing: %v %v", ids, err)
	}
	if err := ix.IndexMailbox(ctx, mb.ID, 0); err != nil {
		t.Fatal(err)
	}
	if ids, err := ix.Unindexed(ctx, mb.ID, mb.UIDValidity); err != nil || len(ids) != 0 {
		t.Fatalf("after indexing: %v %v", ids, err)
	}
	later := deliver(3)
	ids, err := ix.Unindexed(ctx, mb.ID, mb.UIDValidity)
	if err != nil || fmt.Sprint(ids) != fmt.Sprint(later) {
		t.Fatalf("after three more: %v %v, want %v", ids, err, later)
	}
	var got []int64
	err = ix.Texts(ctx, append(ids, 987654321), mailindex.AllParts, func(st mailstore.SearchText) error {
		got = append(got, st.BodyID)
		return nil
	})
	if slices.Sort(got); err != nil || fmt.Sprint(got) != fmt.Sprint(later) {
		t.Fatalf("texts of %v: %v %v", ids, got, err)
	}
	// A scan reads only what its criteria look at.
	for _, want := range []mailindex.Parts{mailindex.PartHeader, mailindex.PartText} {
		err := ix.Texts(ctx, ids, want, func(st mailstore.SearchText) error {
			if (st.Header != "") != (want == mailindex.PartHeader) || (st.Text != "") != (want == mailindex.PartText) || st.Envelope != nil {
				t.Errorf("parts %d: header %d bytes, text %d bytes, envelope %v", want, len(st.Header), len(st.Text), st.Envelope != nil)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
