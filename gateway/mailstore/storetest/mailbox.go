package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	if _, _, err := s.OpenBody(ctx, msgs[0].BodyID); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("body of a deleted mailbox's message: %v", err)
	}
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
