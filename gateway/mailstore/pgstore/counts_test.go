package pgstore

import (
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// TestMailboxCountsMigration: the migration to mailbox_counts counts the messages a version 3
// database holds, and the triggers keep the figures from then on.
func TestMailboxCountsMigration(t *testing.T) {
	s := upgraded(t, 3, Options{},
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, highest_modseq) VALUES (10, 1, 'INBOX', 999, 4, 5), (11, 1, 'Empty', 998, 1, 1)`,
		`INSERT INTO bodies(id, size, header_size, refs) VALUES (1, 8, 8, 1), (2, 10, 8, 1), (3, 12, 8, 1)`,
		`INSERT INTO messages(mailbox_id, uid, body_id, flags, internal_date, size, modseq) VALUES
			(10, 1, 1, 1, 0, 8, 2), (10, 2, 2, 9, 0, 10, 3), (10, 3, 3, 0, 0, 12, 4)`,
	)
	storetest.CountsAfterUpgrade(t, s, "after migration")
}
