package pgstore

import (
	"context"
	"testing"
)

// TestMigrateCountsExistingQuota: the migration to schema 4 fills each existing account's
// usage counter from its messages, and Check finds the counters right.
func TestMigrateCountsExistingQuota(t *testing.T) {
	ctx := context.Background()
	// A database at schema 3 with one account holding two messages (one copied twice).
	s := upgraded(t, 3, Options{DefaultQuota: 100},
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1), (2, 'empty@x.test', 'empty@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext) VALUES (10, 1, 'INBOX', 1, 3), (11, 1, 'Archive', 2, 2), (12, 2, 'INBOX', 3, 1)`,
		`INSERT INTO bodies(id, size, header_size, refs) VALUES (1, 5, 5, 2), (2, 7, 7, 1)`,
		`INSERT INTO body_chunks(body_id, seq, data) VALUES (1, 0, 'aaaaa'), (2, 0, 'bbbbbbb')`,
		`INSERT INTO messages(mailbox_id, uid, body_id, internal_date, size, modseq) VALUES (10, 1, 1, 0, 5, 1), (10, 2, 2, 0, 7, 1), (11, 1, 1, 0, 5, 1)`,
	)
	if q, err := s.Quota(ctx, 1); err != nil || q.Used != 17 || q.Limit != 100 || q.Own {
		t.Fatalf("quota after migration: %+v %v", q, err)
	}
	if q, err := s.Quota(ctx, 2); err != nil || q.Used != 0 {
		t.Fatalf("empty account after migration: %+v %v", q, err)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("check: %v %v", probs, err)
	}
}
