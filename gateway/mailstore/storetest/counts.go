package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// checkCounts compares MailboxStatus with a count of the mailbox's messages.
func checkCounts(t *testing.T, s Store, step string, mailboxID int64) {
	t.Helper()
	ctx := context.Background()
	msgs, err := s.Messages(ctx, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	var want mailstore.MailboxCounts
	for _, m := range msgs {
		want.Messages++
		if m.Flags&mailstore.FlagSeen == 0 {
			want.Unseen++
		}
		if m.Flags&mailstore.FlagDeleted != 0 {
			want.Deleted++
		}
		want.Size += m.Size
	}
	got, err := s.MailboxStatus(ctx, mailboxID)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if got.Messages != want.Messages || got.Unseen != want.Unseen || got.Deleted != want.Deleted || got.Size != want.Size {
		t.Fatalf("%s: status %d messages, %d unseen, %d deleted, %d bytes; the mailbox holds %d, %d, %d, %d", step,
			got.Messages, got.Unseen, got.Deleted, got.Size, want.Messages, want.Unseen, want.Deleted, want.Size)
	}
}

// testMailboxCounts follows STATUS's figures through every way a message arrives, changes
// flags, moves and leaves.
func testMailboxCounts(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "counts@x.test")
	for _, b := range []string{"a\r\n\r\nsmall\r\n", "b\r\n\r\na little longer\r\n", "c\r\n\r\n3\r\n", "d\r\n\r\n4\r\n", "e\r\n\r\n5\r\n"} {
		deliver(t, s, b, mailstore.Target{UserID: u.ID})
	}
	inbox, _ := mailbox(t, s, u, "INBOX")
	if _, err := s.CreateMailboxes(ctx, u.ID, "Work", ""); err != nil {
		t.Fatal(err)
	}
	work, _ := mailbox(t, s, u, "Work")
	both := func(step string) {
		t.Helper()
		checkCounts(t, s, step, inbox.ID)
		checkCounts(t, s, step, work.ID)
	}
	both("delivered")
	if err := s.SetFlags(ctx, inbox.ID, []uint32{1, 2}, mailstore.FlagSeen); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFlags(ctx, inbox.ID, []uint32{2, 3}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagDeleted | mailstore.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	both("flags set")
	if _, err := s.UpdateFlags(ctx, inbox.ID, []uint32{1}, mailstore.FlagChange{Op: mailstore.FlagsRemove, Flags: mailstore.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	both("flag removed")
	if _, err := s.CopyMessages(ctx, inbox.ID, work.ID, []uint32{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CopyMessages(ctx, inbox.ID, work.ID, []uint32{4}, true); err != nil {
		t.Fatal(err)
	}
	both("copied and moved")
	if _, err := s.ExpungeDeleted(ctx, inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpungeDeleted(ctx, work.ID, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	both("expunged")
	if _, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: work.ID, Flags: mailstore.FlagSeen | mailstore.FlagDeleted,
		Body: msgbuf.FromBytes([]byte("appended\r\n\r\nx\r\n")), InternalDate: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	both("appended")
	if err := s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: inbox.ID, Seen: []uint32{5}, Expunge: []uint32{1}}); err != nil {
		t.Fatal(err)
	}
	both("POP3 update")
	// Renaming INBOX moves its messages to the new mailbox and leaves INBOX empty.
	if err := s.RenameMailbox(ctx, u.ID, "INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	old, _ := mailbox(t, s, u, "Old")
	both("INBOX renamed")
	checkCounts(t, s, "INBOX renamed", old.ID)
	if c, _ := s.MailboxStatus(ctx, old.ID); c.Messages != 1 {
		t.Fatalf("the renamed INBOX holds %d messages, want 1", c.Messages)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "Work"); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, "f\r\n\r\n6\r\n", mailstore.Target{UserID: u.ID})
	checkCounts(t, s, "after delete", inbox.ID)
	checkConsistent(t, s)
}

// CountsAfterUpgrade checks a store opened on a database from before the mailbox counts,
// holding what each backend's upgrade test writes in its own schema: account 1 with INBOX
// (id 10: UID 1 \Seen of 8 bytes, UID 2 \Seen \Deleted of 10, UID 3 of 12) and Empty (id
// 11). The upgrade counted them, and EXPUNGE and STORE keep the figures; step names what
// opened the store.
func CountsAfterUpgrade(t *testing.T, s Store, step string) {
	t.Helper()
	ctx := t.Context()
	WantCounts(t, s, step, 10, mailstore.MailboxCounts{Messages: 3, Unseen: 1, Deleted: 1, Size: 30})
	WantCounts(t, s, step, 11, mailstore.MailboxCounts{})
	if _, err := s.ExpungeDeleted(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	WantCounts(t, s, "after EXPUNGE", 10, mailstore.MailboxCounts{Messages: 2, Unseen: 1, Size: 20})
	if _, err := s.UpdateFlags(ctx, 10, []uint32{3}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	WantCounts(t, s, "after STORE", 10, mailstore.MailboxCounts{Messages: 2, Size: 20})
}

// WantCounts fails t unless the mailbox's STATUS figures are want.
func WantCounts(t *testing.T, s Store, step string, mailboxID int64, want mailstore.MailboxCounts) {
	t.Helper()
	c, err := s.MailboxStatus(t.Context(), mailboxID)
	if err != nil || c.Messages != want.Messages || c.Unseen != want.Unseen || c.Deleted != want.Deleted || c.Size != want.Size {
		t.Fatalf("%s: mailbox %d: %+v %v, want %+v", step, mailboxID, c, err, want)
	}
}
