package mailstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestMailboxCountsFromOlderDatabase: a database from before mailbox_counts gets its
// figures counted at Open, and the triggers keep them from then on.
func TestMailboxCountsFromOlderDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mail.db")+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range schemaParts() {
		if part == schemaCounts {
			continue
		}
		if _, err := db.Exec(part); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO meta(key, value) VALUES ('schema_version', %d), ('uidvalidity_next', 1000)`, schemaVersion),
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, highest_modseq) VALUES (10, 1, 'INBOX', 999, 4, 5), (11, 1, 'Empty', 998, 1, 1)`,
		`INSERT INTO bodies(id, size, header_size, data, refs) VALUES
			(1, 8, 8, CAST('a: 1' || char(13,10,13,10) AS BLOB), 1),
			(2, 8, 8, CAST('a: 2' || char(13,10,13,10) AS BLOB), 1),
			(3, 8, 8, CAST('a: 3' || char(13,10,13,10) AS BLOB), 1)`,
		fmt.Sprintf(`INSERT INTO messages(mailbox_id, uid, body_id, flags, internal_date, size, modseq) VALUES
			(10, 1, 1, %d, 0, 8, 2), (10, 2, 2, %d, 0, 10, 3), (10, 3, 3, 0, 0, 12, 4)`, FlagSeen, FlagDeleted|FlagSeen),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, dir)
	want := func(step string, id int64, msgs, unseen, deleted uint32, size int64) {
		t.Helper()
		c, err := s.MailboxStatus(ctx, id)
		if err != nil || c.Messages != msgs || c.Unseen != unseen || c.Deleted != deleted || c.Size != size {
			t.Fatalf("%s: mailbox %d: %+v %v, want %d messages, %d unseen, %d deleted, %d bytes", step, id, c, err, msgs, unseen, deleted, size)
		}
	}
	want("after Open", 10, 3, 1, 1, 30)
	want("after Open", 11, 0, 0, 0, 0)
	if _, err := s.ExpungeDeleted(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	want("after EXPUNGE", 10, 2, 1, 0, 20)
	// A second Open counts nothing twice.
	s.Close()
	s = openTest(t, dir)
	want("reopened", 10, 2, 1, 0, 20)
}
