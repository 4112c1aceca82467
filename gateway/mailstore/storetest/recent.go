package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// The \Recent mark: each UID is claimed by one caller only, also when callers race; the
// mark follows the mailbox through a rename and goes with it.
func testClaimRecent(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "recent@x.test")
	id, err := s.CreateMailboxes(ctx, u.ID, "R", "")
	if err != nil {
		t.Fatal(err)
	}
	if mark, err := s.RecentMark(ctx, id); err != nil || mark != 0 {
		t.Fatalf("new mailbox's mark: %d %v", mark, err)
	}
	if prev, err := s.ClaimRecent(ctx, id, 5); err != nil || prev != 0 {
		t.Fatalf("first claim: %d %v", prev, err)
	}
	if prev, err := s.ClaimRecent(ctx, id, 3); err != nil || prev != 5 {
		t.Fatalf("a lower claim: %d %v, want the mark 5 kept", prev, err)
	}
	var wg sync.WaitGroup
	claimed := make([]uint32, 8)
	for i := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev, err := s.ClaimRecent(ctx, id, 10)
			if err != nil {
				t.Error(err)
			}
			claimed[i] = prev
		}()
	}
	wg.Wait()
	got5 := 0
	for _, p := range claimed {
		if p == 5 {
			got5++
		} else if p != 10 {
			t.Errorf("racing claim saw mark %d", p)
		}
	}
	if got5 != 1 {
		t.Fatalf("%d racing callers claimed UIDs 6-10, want exactly one", got5)
	}
	if err := s.RenameMailbox(ctx, u.ID, "R", "S"); err != nil {
		t.Fatal(err)
	}
	if mark, err := s.RecentMark(ctx, id); err != nil || mark != 10 {
		t.Fatalf("mark after rename: %d %v", mark, err)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "S"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRecent(ctx, id, 11); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("claim in a deleted mailbox: %v", err)
	}
}

// Subscriptions to names without a mailbox are kept per user, idempotently.
func testSubscribedNames(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "subs@x.test")
	other := addUser(t, s, "other@x.test")
	for _, n := range []string{"Gone/b", "Gone", "Gone"} {
		if err := s.SetSubscribedName(ctx, u.ID, n, true); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.SubscribedNames(ctx, u.ID); err != nil || len(got) != 2 || got[0] != "Gone" || got[1] != "Gone/b" {
		t.Fatalf("names: %q %v", got, err)
	}
	if got, _ := s.SubscribedNames(ctx, other.ID); len(got) != 0 {
		t.Fatalf("another user's names: %q", got)
	}
	if err := s.SetSubscribedName(ctx, u.ID, "Gone", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubscribedName(ctx, u.ID, "Never", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SubscribedNames(ctx, u.ID); len(got) != 1 || got[0] != "Gone/b" {
		t.Fatalf("after unsubscribing: %q", got)
	}
}
