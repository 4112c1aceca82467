package mailstore_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// TestMailboxCountsFromOlderDatabase: a database from before mailbox_counts gets its
// figures counted at Open, and the triggers keep them from then on.
func TestMailboxCountsFromOlderDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mail.db")+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(mailstore.SchemaBeforeCounts(),
		fmt.Sprintf(`INSERT INTO meta(key, value) VALUES ('schema_version', %d), ('uidvalidity_next', 1000)`, mailstore.SchemaVersion),
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, highest_modseq) VALUES (10, 1, 'INBOX', 999, 4, 5), (11, 1, 'Empty', 998, 1, 1)`,
		`INSERT INTO bodies(id, size, header_size, data, refs) VALUES
			(1, 8, 8, CAST('a: 1' || char(13,10,13,10) AS BLOB), 1),
			(2, 8, 8, CAST('a: 2' || char(13,10,13,10) AS BLOB), 1),
			(3, 8, 8, CAST('a: 3' || char(13,10,13,10) AS BLOB), 1)`,
		fmt.Sprintf(`INSERT INTO messages(mailbox_id, uid, body_id, flags, internal_date, size, modseq) VALUES
			(10, 1, 1, %d, 0, 8, 2), (10, 2, 2, %d, 0, 10, 3), (10, 3, 3, 0, 0, 12, 4)`, mailstore.FlagSeen, mailstore.FlagDeleted|mailstore.FlagSeen),
	) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	db.Close()

	s := openIn(t, dir, mailstore.Options{})
	storetest.CountsAfterUpgrade(t, s, "after Open")
	// A second Open counts nothing twice.
	s.Close()
	storetest.WantCounts(t, openIn(t, dir, mailstore.Options{}), "reopened", 10, mailstore.MailboxCounts{Messages: 2, Size: 20})
}
