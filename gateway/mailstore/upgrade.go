package mailstore

import "fmt"

// upgrades[i] brings a database from schema version i+1 to i+2. Each runs after schemaParts,
// in the transaction that records the new version, so a crash leaves the old version whole
// and processes opening the store at once upgrade it once. SQLite cannot change a table's
// constraints in place: an upgrade that must rebuilds the table.
var upgrades = []string{
	// 1 → 2: pop3_hidden's foreign key gains ON UPDATE CASCADE, so renaming INBOX can move
	// messages hidden from POP3 (before, the rename failed on the foreign key).
	`ALTER TABLE pop3_hidden RENAME TO pop3_hidden_v1;` + schemaPOP3 +
		`INSERT INTO pop3_hidden(mailbox_id, uid) SELECT mailbox_id, uid FROM pop3_hidden_v1;
		DROP TABLE pop3_hidden_v1;`,
	// 2 → 3: policy_version and its triggers go; the directory's change counter
	// (DIR/mail.changes) tells processes of every change to the policy settings.
	`DROP TRIGGER IF EXISTS policy_settings_ins;
	DROP TRIGGER IF EXISTS policy_settings_upd;
	DROP TRIGGER IF EXISTS policy_settings_del;
	DROP TABLE IF EXISTS policy_version;`,
	// 3 → 4: per-account storage quotas (quota.go); existing messages are counted once.
	upgradeQuota,
}

// upgrade applies the upgrades the database still needs, each with its version.
func (s *Store) upgrade() error {
	for {
		done, err := s.upgradeStep()
		if err != nil || done {
			return err
		}
	}
}

// upgradeStep applies the next upgrade in a transaction of its own and reports whether the
// database is at schemaVersion.
func (s *Store) upgradeStep() (bool, error) {
	tx, err := s.wdb.Begin() // BEGIN IMMEDIATE: one process upgrades, the others wait
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return false, err
	}
	if v >= schemaVersion {
		return true, nil
	}
	if v < 1 || v > len(upgrades) {
		return false, fmt.Errorf("mailstore: no upgrade from schema version %d", v)
	}
	if _, err := tx.Exec(upgrades[v-1]); err != nil {
		return false, err
	}
	if _, err := tx.Exec(`UPDATE meta SET value = ? WHERE key = 'schema_version'`, v+1); err != nil {
		return false, err
	}
	return v+1 == schemaVersion, tx.Commit()
}
