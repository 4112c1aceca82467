package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

func mailboxNames(t *testing.T, s Store, userID int64) string {
	t.Helper()
	mbs, err := s.Mailboxes(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mbs {
		names = append(names, m.Name)
	}
	return fmt.Sprint(names)
}

func testMailboxes(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "mb@x.test")
	for _, bad := range []string{"", "a//b", "../x", "trail/"} {
		if _, err := s.CreateMailbox(ctx, u.ID, bad, ""); !errors.Is(err, mailstore.ErrInvalidName) {
			t.Errorf("create %q: %v, want ErrInvalidName", bad, err)
		}
	}
	// INBOX is INBOX in any case, as the first level of a name too: what CREATE made under
	// "inbox/" is found under any case of it.
	u2 := addUser(t, s, "mb2@x.test")
	sub, err := s.CreateMailboxes(ctx, u2.ID, "inbox/Sub", "")
	if err != nil {
		t.Fatal(err)
	}
	if mb, err := s.MailboxByName(ctx, u2.ID, "Inbox/Sub"); err != nil || mb.ID != sub || mb.Name != "INBOX/Sub" {
		t.Fatalf("Inbox/Sub: %+v %v, want mailbox %d INBOX/Sub", mb, err, sub)
	}
	id, err := s.CreateMailbox(ctx, u.ID, "Work", `\Flagged`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMailbox(ctx, u.ID, "Work", ""); !errors.Is(err, mailstore.ErrExists) {
		t.Fatalf("create twice: %v", err)
	}
	if _, err := s.CreateMailbox(ctx, u.ID, "inbox", ""); !errors.Is(err, mailstore.ErrExists) {
		t.Fatalf("create inbox: %v", err)
	}
	mb, err := s.MailboxByName(ctx, u.ID, "Work")
	if err != nil || mb.ID != id || mb.SpecialUse != `\Flagged` || mb.UIDNext != 1 || mb.HighestModSeq == 0 {
		t.Fatalf("created %+v %v", mb, err)
	}
	if _, err := s.CreateMailboxes(ctx, u.ID, "inbox/a/b/c", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMailboxes(ctx, u.ID, "INBOX/a/b", ""); !errors.Is(err, mailstore.ErrExists) {
		t.Fatalf("create an existing parent: %v", err)
	}
	if got := mailboxNames(t, s, u.ID); got != "[Archive Drafts INBOX INBOX/a INBOX/a/b INBOX/a/b/c Junk Sent Trash Work]" {
		t.Fatalf("mailboxes %s", got)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "inbox"); !errors.Is(err, mailstore.ErrInboxDelete) {
		t.Fatalf("delete INBOX: %v", err)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "INBOX/a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "INBOX/a"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if got := mailboxNames(t, s, u.ID); got != "[Archive Drafts INBOX INBOX/a/b INBOX/a/b/c Junk Sent Trash Work]" {
		t.Fatalf("children must stay: %s", got)
	}
	if err := s.SetSubscribed(ctx, u.ID, "Work", false); err != nil {
		t.Fatal(err)
	}
	if mb, _ := s.MailboxByName(ctx, u.ID, "Work"); mb.Subscribed {
		t.Fatal("still subscribed")
	}
	if err := s.SetSubscribed(ctx, u.ID, "Nope", true); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("subscribe a missing mailbox: %v", err)
	}
	if _, err := s.MailboxByName(ctx, u.ID, "Nope"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("missing mailbox: %v", err)
	}

	// STATUS counts.
	d := deliver(t, s, "Subject: 1\r\n\r\n12345\r\n", mailstore.Target{UserID: u.ID, Mailbox: "Work"})
	deliver(t, s, "Subject: 2\r\n\r\n1\r\n", mailstore.Target{UserID: u.ID, Mailbox: "Work"})
	deliver(t, s, "Subject: 3\r\n\r\n1\r\n", mailstore.Target{UserID: u.ID, Mailbox: "Work"})
	if err := s.SetFlags(ctx, id, []uint32{1}, mailstore.FlagSeen|mailstore.FlagDeleted); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFlags(ctx, id, []uint32{2}, mailstore.FlagSeen); err != nil {
		t.Fatal(err)
	}
	c, err := s.MailboxStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, msgs := mailbox(t, s, u, "Work")
	var size int64
	for _, m := range msgs {
		size += m.Size
	}
	mb, _ = s.MailboxByName(ctx, u.ID, "Work")
	if c.Messages != 3 || c.Unseen != 1 || c.Deleted != 1 || c.Size != size || c.UIDNext != 4 || c.UIDValidity != mb.UIDValidity || c.HighestModSeq != mb.HighestModSeq {
		t.Fatalf("status %+v (mailbox %+v)", c, mb)
	}
	if d.Messages[0].MailboxID != id {
		t.Fatal("delivered to the wrong mailbox")
	}
	if c, err := s.MailboxStatus(ctx, 987654321); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("status of a missing mailbox: %+v %v", c, err)
	}
	// Deleting a mailbox deletes its messages, and their bodies.
	if err := s.DeleteMailbox(ctx, u.ID, "Work"); err != nil {
		t.Fatal(err)
	}
	bodyGone(t, s, msgs[0].BodyID, "body of a deleted mailbox's message")
	checkConsistent(t, s)
}

func testRenameWithChildren(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "rn@x.test")
	for _, n := range []string{"A/B/C", "A/D", "AB"} {
		if _, err := s.CreateMailboxes(ctx, u.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	deliver(t, s, "x\r\n\r\n", mailstore.Target{UserID: u.ID, Mailbox: "A/B"})
	before, _ := s.MailboxByName(ctx, u.ID, "A/B")
	if err := s.RenameMailbox(ctx, u.ID, "A", "X/Y"); err != nil {
		t.Fatal(err)
	}
	if got := mailboxNames(t, s, u.ID); got != "[AB Archive Drafts INBOX Junk Sent Trash X X/Y X/Y/B X/Y/B/C X/Y/D]" {
		t.Fatalf("after rename: %s", got)
	}
	after, msgs := mailbox(t, s, u, "X/Y/B")
	if after.ID != before.ID || after.UIDValidity != before.UIDValidity || len(msgs) != 1 {
		t.Fatalf("a renamed child changed identity: %+v → %+v, %d messages", before, after, len(msgs))
	}
	for _, tc := range []struct{ from, to string }{{"X/Y", "AB"}, {"X/Y", "X/Y/Z"}, {"X", "INBOX"}, {"AB", "AB"}} {
		if err := s.RenameMailbox(ctx, u.ID, tc.from, tc.to); !errors.Is(err, mailstore.ErrExists) {
			t.Errorf("rename %s to %s: %v, want ErrExists", tc.from, tc.to, err)
		}
	}
	if err := s.RenameMailbox(ctx, u.ID, "Nope", "Q"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("rename a missing mailbox: %v", err)
	}
	if err := s.RenameMailbox(ctx, u.ID, "AB", "a//b"); !errors.Is(err, mailstore.ErrInvalidName) {
		t.Fatalf("rename to an invalid name: %v", err)
	}
}

func testRenameInbox(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "ri@x.test")
	deliver(t, s, "1\r\n\r\n", mailstore.Target{UserID: u.ID})
	deliver(t, s, "2\r\n\r\n", mailstore.Target{UserID: u.ID})
	inbox, old := mailbox(t, s, u, "INBOX")
	if err := s.RenameMailbox(ctx, u.ID, "inbox", "Old/Inbox"); err != nil {
		t.Fatal(err)
	}
	in2, now := mailbox(t, s, u, "INBOX")
	if in2.ID != inbox.ID || len(now) != 0 {
		t.Fatalf("INBOX after rename: %+v with %d messages", in2, len(now))
	}
	moved, msgs := mailbox(t, s, u, "Old/Inbox")
	if fmt.Sprint(uids(msgs)) != fmt.Sprint(uids(old)) || moved.UIDNext != inbox.UIDNext || msgs[0].BodyID != old[0].BodyID {
		t.Fatalf("moved messages %v (UIDNEXT %d), want %v (%d)", uids(msgs), moved.UIDNext, uids(old), inbox.UIDNext)
	}
	ch, err := s.ChangesSince(ctx, inbox.ID, inbox.HighestModSeq)
	if err != nil || fmt.Sprint(sorted(ch.Expunged)) != "[1 2]" {
		t.Fatalf("INBOX's expunges after rename: %+v %v", ch, err)
	}
	// New mail still goes to INBOX, with UIDs after the old ones.
	d := deliver(t, s, "3\r\n\r\n", mailstore.Target{UserID: u.ID})
	if d.Messages[0].MailboxID != inbox.ID || d.Messages[0].UID != 3 {
		t.Fatalf("after rename: %+v", d)
	}
	if _, err := s.MailboxByName(ctx, u.ID, "Old"); err != nil {
		t.Fatalf("the parent of the new name was not created: %v", err)
	}
}

func sorted(u []uint32) []uint32 { u = slices.Clone(u); slices.Sort(u); return u }

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

func testMaildrop(t *testing.T, s Store) {
	ctx := t.Context()
	u, mb := threeMessages(t, s, "pop@x.test")
	d, err := s.Maildrop(ctx, u.ID)
	if err != nil || d.MailboxID != mb.ID || d.UIDValidity != mb.UIDValidity || len(d.Messages) != 3 || d.Messages[0].UID != 1 {
		t.Fatalf("maildrop %+v %v", d, err)
	}
	msgs, _ := s.Messages(ctx, mb.ID)
	if d.Messages[1].BodyID != msgs[1].BodyID || d.Messages[1].Size != msgs[1].Size {
		t.Fatalf("maildrop message %+v, message %+v", d.Messages[1], msgs[1])
	}
	bodies, err := s.MaildropBodies(ctx, []int64{d.Messages[0].BodyID, d.Messages[2].BodyID})
	if err != nil || len(bodies) != 2 || string(bodies[d.Messages[2].BodyID]) != "Subject: 3\r\n\r\nbody 3\r\n" {
		t.Fatalf("maildrop bodies: %d %v", len(bodies), err)
	}
	if err := s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: mb.ID}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.HighestModSeq(ctx, mb.ID)
	if err := s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: mb.ID, Seen: []uint32{1, 2}, Hide: []uint32{2}, Expunge: []uint32{3, 99}}); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Maildrop(ctx, u.ID)
	if len(d.Messages) != 1 || d.Messages[0].UID != 1 {
		t.Fatalf("after update POP3 sees %+v", d.Messages)
	}
	msgs, _ = s.Messages(ctx, mb.ID)
	if fmt.Sprint(uids(msgs)) != "[1 2]" || msgs[0].Flags != mailstore.FlagSeen || msgs[1].Flags != mailstore.FlagSeen || msgs[0].ModSeq <= before {
		t.Fatalf("IMAP sees %+v", msgs)
	}
	// A hidden message expunged over IMAP is gone for both, and a client that saw the
	// HIGHESTMODSEQ before the expunge learns of it (QRESYNC's VANISHED; ChangesSince
	// includes its MODSEQ, so a client that has seen seen asks from seen+1).
	seen, _ := s.HighestModSeq(ctx, mb.ID)
	if err := s.Expunge(ctx, mb.ID, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if ch, err := s.ChangesSince(ctx, mb.ID, seen+1); err != nil || fmt.Sprint(ch.Expunged) != "[2]" || ch.HighestModSeq <= seen {
		t.Fatalf("changes since %d after expunging 2: %+v, %v", seen, ch, err)
	}
	deliver(t, s, "new\r\n\r\n", mailstore.Target{UserID: u.ID})
	if d, _ := s.Maildrop(ctx, u.ID); fmt.Sprint(maildropUIDs(d)) != "[1 4]" {
		t.Fatalf("maildrop %v", maildropUIDs(d))
	}
	if _, err := s.Maildrop(ctx, 987654321); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("maildrop of a missing user: %v", err)
	}
	checkConsistent(t, s)
}

func maildropUIDs(d mailstore.Maildrop) []uint32 {
	var out []uint32
	for _, m := range d.Messages {
		out = append(out, m.UID)
	}
	return out
}

func testMaildropLock(t *testing.T, s Store) {
	ctx := t.Context()
	l := s
	a, b := addUser(t, s, "la@x.test"), addUser(t, s, "lb@x.test")
	release, err := l.LockMaildrop(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.LockMaildrop(ctx, a.ID); !errors.Is(err, mailstore.ErrInUse) {
		t.Fatalf("second lock: %v, want ErrInUse", err)
	}
	releaseB, err := l.LockMaildrop(ctx, b.ID)
	if err != nil {
		t.Fatalf("another user's maildrop: %v", err)
	}
	releaseB()
	release()
	release() // twice is harmless
	again, err := l.LockMaildrop(ctx, a.ID)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

// testRenameInboxWithHidden: renaming INBOX after POP3 hid a message in keep mode moves every
// message, the hidden one included, to the new mailbox (RFC 9051 §6.3.6), and POP3 then sees
// the empty INBOX and new mail in it.
func testRenameInboxWithHidden(t *testing.T, s Store) {
	ctx := t.Context()
	u, inbox := threeMessages(t, s, "rh@x.test")
	if err := s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: inbox.ID, Seen: []uint32{1, 2}, Hide: []uint32{2}}); err != nil {
		t.Fatal(err)
	}
	_, before := mailbox(t, s, u, "INBOX")
	if err := s.RenameMailbox(ctx, u.ID, "INBOX", "Kept"); err != nil {
		t.Fatalf("rename INBOX with a message hidden from POP3: %v", err)
	}
	_, moved := mailbox(t, s, u, "Kept")
	if fmt.Sprint(uids(moved)) != "[1 2 3]" || moved[1].BodyID != before[1].BodyID || moved[1].Flags != mailstore.FlagSeen {
		t.Fatalf("moved %+v, was %+v", moved, before)
	}
	if _, left := mailbox(t, s, u, "INBOX"); len(left) != 0 {
		t.Fatalf("INBOX kept %v", uids(left))
	}
	if d, err := s.Maildrop(ctx, u.ID); err != nil || d.MailboxID != inbox.ID || len(d.Messages) != 0 {
		t.Fatalf("maildrop after rename %+v %v", d, err)
	}
	deliver(t, s, "Subject: 4\r\n\r\nbody 4\r\n", mailstore.Target{UserID: u.ID})
	if d, _ := s.Maildrop(ctx, u.ID); fmt.Sprint(maildropUIDs(d)) != "[4]" {
		t.Fatalf("maildrop after new mail %v", maildropUIDs(d))
	}
	// The moved messages go as usual, the hidden one too.
	kept, _ := mailbox(t, s, u, "Kept")
	if err := s.Expunge(ctx, kept.ID, []uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "Kept"); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
}
