package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

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
	// A hidden message expunged over IMAP is gone for both.
	if err := s.Expunge(ctx, mb.ID, []uint32{2}); err != nil {
		t.Fatal(err)
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
