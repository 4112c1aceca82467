package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// schemaPOP3Version1 is pop3_hidden as schema version 1 created it: no ON UPDATE action.
const schemaPOP3Version1 = `
CREATE TABLE IF NOT EXISTS pop3_hidden (
	mailbox_id INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid),
	FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
`

// schemaPolicyVersion2 is what schema versions 1 and 2 added to policy_settings.
const schemaPolicyVersion2 = `
CREATE TABLE IF NOT EXISTS policy_version (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO policy_version(id, n) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS policy_settings_ins AFTER INSERT ON policy_settings BEGIN
	UPDATE policy_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS policy_settings_upd AFTER UPDATE ON policy_settings BEGIN
	UPDATE policy_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS policy_settings_del AFTER DELETE ON policy_settings BEGIN
	UPDATE policy_version SET n = n + 1 WHERE id = 1;
END;
`

// createVersion1 makes dir/mail.db as a Sealgate with schema version 1 left it: one user whose
// INBOX holds messages 1 to 3, message 2 hidden from POP3.
func createVersion1(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mail.db")+
		"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, part := range schemaParts() {
		switch part {
		case schemaPOP3:
			part = schemaPOP3Version1
		case schemaPolicy:
			part += schemaPolicyVersion2
		case schemaQuota:
			continue
		}
		if _, err := db.Exec(part); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO meta(key, value) VALUES ('schema_version', 1), ('uidvalidity_next', 1000)`,
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, highest_modseq) VALUES (10, 1, 'INBOX', 999, 4, 5)`,
		`INSERT INTO bodies(id, size, header_size, data, refs) VALUES
			(1, 8, 8, CAST('a: 1' || char(13,10,13,10) AS BLOB), 1),
			(2, 8, 8, CAST('a: 2' || char(13,10,13,10) AS BLOB), 1),
			(3, 8, 8, CAST('a: 3' || char(13,10,13,10) AS BLOB), 1)`,
		`INSERT INTO messages(mailbox_id, uid, body_id, internal_date, size, modseq) VALUES
			(10, 1, 1, 0, 8, 2), (10, 2, 2, 0, 8, 3), (10, 3, 3, 0, 8, 4)`,
		`INSERT INTO pop3_hidden(mailbox_id, uid) VALUES (10, 2)`,
		`INSERT INTO policy_settings(scope, key, value) VALUES ('global', 'inbound.encrypt', 'pgp')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestUpgradeFromVersion1: Open upgrades a version 1 database in place (through version 2: the
// policy settings stay, policy_version goes; through 4: quota usage counts the messages), keeping the messages
// hidden from POP3, and INBOX can then be renamed with them.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	createVersion1(t, dir)
	s := openTest(t, dir)

	var v int
	var ddl string
	if err := s.wdb.QueryRow(`SELECT (SELECT value FROM meta WHERE key = 'schema_version'),
		(SELECT sql FROM sqlite_schema WHERE name = 'pop3_hidden')`).Scan(&v, &ddl); err != nil {
		t.Fatal(err)
	}
	if v != schemaVersion || !strings.Contains(ddl, "ON UPDATE CASCADE") {
		t.Fatalf("after Open: schema version %d, pop3_hidden %s", v, ddl)
	}
	var left int
	if err := s.wdb.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name LIKE 'policy_%' AND name != 'policy_settings'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after Open: %d of policy_version and its triggers left (%v)", left, err)
	}
	if p, err := s.PolicySettings(ctx); err != nil || p["global"]["inbound.encrypt"] != "pgp" {
		t.Fatalf("policy after upgrade: %v %v", p, err)
	}
	if err := s.SetPolicy(ctx, "global", map[string]string{"inbound.encrypt": "smime"}); err != nil {
		t.Fatalf("policy change after upgrade: %v", err)
	}
	if d, err := s.Maildrop(ctx, 1); err != nil || fmt.Sprint(maildropUIDs(d)) != "[1 3]" {
		t.Fatalf("maildrop after upgrade: %+v %v", d, err)
	}
	if q, err := s.Quota(ctx, 1); err != nil || q.Used != 24 {
		t.Fatalf("quota after upgrade: %+v %v, want the 24 bytes of the three messages", q, err)
	}
	if err := s.RenameMailbox(ctx, 1, "INBOX", "Kept"); err != nil {
		t.Fatalf("rename INBOX after upgrade: %v", err)
	}
	kept, err := s.MailboxByName(ctx, 1, "Kept")
	if err != nil {
		t.Fatal(err)
	}
	var hidden string
	if err := s.wdb.QueryRow(`SELECT group_concat(mailbox_id || '/' || uid) FROM pop3_hidden`).Scan(&hidden); err != nil {
		t.Fatal(err)
	}
	if hidden != fmt.Sprintf("%d/2", kept.ID) {
		t.Fatalf("hidden after rename: %s, want message 2 of mailbox %d", hidden, kept.ID)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("check: %v %v", probs, err)
	}
	s.Close()

	// Opening again changes nothing; a database from a newer Sealgate is refused.
	s = openTest(t, dir)
	if msgs, err := s.Messages(ctx, kept.ID); err != nil || len(msgs) != 3 {
		t.Fatalf("reopened: %d messages %v", len(msgs), err)
	}
	if _, err := s.wdb.Exec(`UPDATE meta SET value = ? WHERE key = 'schema_version'`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(dir, Options{}); !errors.Is(err, ErrSchemaVersion) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("open of a newer schema: %v, want ErrSchemaVersion", err)
	}
}

func maildropUIDs(d Maildrop) []uint32 {
	var out []uint32
	for _, m := range d.Messages {
		out = append(out, m.UID)
	}
	return out
}
