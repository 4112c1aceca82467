package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// testMissingIsNotFound: every method given a mailbox, message body, user, alias or spool
// entry that does not exist fails with mailstore.ErrNotFound, never with a backend's own
// "no rows" error.
func testMissingIsNotFound(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "here@x.test")
	inbox, _ := mailbox(t, s, u, "INBOX")
	const noMailbox, noUser, noBody, noEntry = 987654321, 987654322, 987654323, 987654324
	ghost := mustAddr(t, "ghost@x.test")
	body := func() mailstore.Body { return msgbuf.FromBytes([]byte("Subject: m\r\n\r\nm\r\n")) }
	calls := []struct {
		name string
		call func() error
	}{
		// mailboxes
		{"SetFlags", func() error { return s.SetFlags(ctx, noMailbox, []uint32{1}, mailstore.FlagSeen) }},
		{"UpdateFlags", func() error {
			_, err := s.UpdateFlags(ctx, noMailbox, []uint32{1}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen})
			return err
		}},
		{"UpdateMaildrop", func() error {
			return s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: noMailbox, Seen: []uint32{1}, Hide: []uint32{1}, Expunge: []uint32{1}})
		}},
		{"MailboxStatus", func() error { _, err := s.MailboxStatus(ctx, noMailbox); return err }},
		{"Snapshot", func() error { _, err := s.Snapshot(ctx, noMailbox); return err }},
		{"HighestModSeq", func() error { _, err := s.HighestModSeq(ctx, noMailbox); return err }},
		{"ChangesSince", func() error { _, err := s.ChangesSince(ctx, noMailbox, 1); return err }},
		{"CopyMessages from", func() error { _, err := s.CopyMessages(ctx, noMailbox, inbox.ID, []uint32{1}, false); return err }},
		{"CopyMessages to", func() error { _, err := s.CopyMessages(ctx, inbox.ID, noMailbox, []uint32{1}, true); return err }},
		{"Append", func() error {
			_, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: noMailbox, Body: body()})
			return err
		}},
		{"MailboxByName", func() error { _, err := s.MailboxByName(ctx, u.ID, "Nowhere"); return err }},
		{"DeleteMailbox", func() error { return s.DeleteMailbox(ctx, u.ID, "Nowhere") }},
		{"RenameMailbox", func() error { return s.RenameMailbox(ctx, u.ID, "Nowhere", "Elsewhere") }},
		{"SetSubscribed", func() error { return s.SetSubscribed(ctx, u.ID, "Nowhere", true) }},
		// users
		{"UserByAddress", func() error { _, err := s.UserByAddress(ctx, ghost); return err }},
		{"SetPasswordHash", func() error { return s.SetPasswordHash(ctx, ghost, "h") }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, ghost) }},
		{"CreateMailbox of a missing user", func() error { _, err := s.CreateMailbox(ctx, noUser, "Box", ""); return err }},
		{"CreateMailboxes of a missing user", func() error { _, err := s.CreateMailboxes(ctx, noUser, "A/B", ""); return err }},
		{"RenameMailbox of a missing user", func() error { return s.RenameMailbox(ctx, noUser, "INBOX", "Old") }},
		{"Maildrop of a missing user", func() error { _, err := s.Maildrop(ctx, noUser); return err }},
		{"Deliver to a missing user", func() error {
			_, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: body(), Local: []mailstore.Target{{UserID: noUser}}}}})
			return err
		}},
		{"Append to another user's mailbox", func() error {
			_, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: noUser, MailboxID: inbox.ID, Body: body()})
			return err
		}},
		// bodies and aliases
		{"OpenBody", func() error {
			rc, _, err := s.OpenBody(ctx, noBody)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"AliasByKey", func() error { _, err := s.AliasByKey(ctx, "ghost@x.test"); return err }},
		{"DeleteAlias", func() error { return s.DeleteAlias(ctx, "ghost@x.test") }},
		// spool entries
		{"QueueEntry", func() error { _, err := s.QueueEntry(ctx, noEntry); return err }},
		{"QueueRecord", func() error {
			return s.QueueRecord(ctx, noEntry, []mailstore.QueueRecipient{{Address: "r@remote.test", State: mailstore.RcptDelivered}})
		}},
		{"QueueSettle", func() error {
			_, err := s.QueueSettle(ctx, noEntry, mailstore.Settle{Attempted: true, NextAttempt: time.Unix(1_800_000_000, 0)})
			return err
		}},
		{"QueueSetHeld", func() error { return s.QueueSetHeld(ctx, noEntry, true) }},
		{"QueueRetry", func() error { return s.QueueRetry(ctx, noEntry, time.Unix(1_800_000_000, 0)) }},
		{"QueueDelete", func() error { return s.QueueDelete(ctx, noEntry) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, mailstore.ErrNotFound) {
			t.Errorf("%s: %v, want mailstore.ErrNotFound", c.name, err)
		}
	}
	// Nothing was changed by the failed calls.
	if _, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 0 {
		t.Errorf("INBOX has %d messages", len(msgs))
	}
	checkConsistent(t, s)
}
