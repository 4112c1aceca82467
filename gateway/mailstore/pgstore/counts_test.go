package pgstore

import (
	"context"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// TestMailboxCountsMigration: the migration to mailbox_counts counts the messages a version 3
// database holds, and the triggers keep the figures from then on.
func TestMailboxCountsMigration(t *testing.T) {
	ctx := context.Background()
	s := upgraded(t, 3, Options{},
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, highest_modseq) VALUES (10, 1, 'INBOX', 999, 4, 5), (11, 1, 'Empty', 998, 1, 1)`,
		`INSERT INTO bodies(id, size, header_size, refs) VALUES (1, 8, 8, 1), (2, 10, 8, 1), (3, 12, 8, 1)`,
		`INSERT INTO messages(mailbox_id, uid, body_id, flags, internal_date, size, modseq) VALUES
			(10, 1, 1, 1, 0, 8, 2), (10, 2, 2, 9, 0, 10, 3), (10, 3, 3, 0, 0, 12, 4)`,
	)
	want := func(step string, id int64, msgs, unseen, deleted uint32, size int64) {
		t.Helper()
		c, err := s.MailboxStatus(ctx, id)
		if err != nil || c.Messages != msgs || c.Unseen != unseen || c.Deleted != deleted || c.Size != size {
			t.Fatalf("%s: mailbox %d: %+v %v, want %d messages, %d unseen, %d deleted, %d bytes", step, id, c, err, msgs, unseen, deleted, size)
		}
	}
	want("after migration", 10, 3, 1, 1, 30)
	want("after migration", 11, 0, 0, 0, 0)
	if _, err := s.ExpungeDeleted(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	want("after EXPUNGE", 10, 2, 1, 0, 20)
	if _, err := s.UpdateFlags(ctx, 10, []uint32{3}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	want("after STORE", 10, 2, 0, 0, 20)
}
