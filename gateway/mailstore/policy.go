package mailstore

import (
	"context"
	"database/sql"
	"sync"
)

// schemaPolicy: operators' policy settings (see package policy), KEY=VALUE per scope.
const schemaPolicy = `
CREATE TABLE IF NOT EXISTS policy_settings (
	scope TEXT NOT NULL, -- "global", a domain, or an address
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;

-- policy_version counts changes to policy_settings (the triggers below), so that a process can
-- keep the settings in memory and still see a change made by another process (the CLI) at its
-- next read: one point query instead of reading every setting per message.
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

// policyCache holds the settings read at one policy_version.
type policyCache struct {
	prepare  sync.Once
	stmt     *sql.Stmt // the version query, prepared once
	err      error
	mu       sync.Mutex
	version  int64
	settings map[string]map[string]string // nil: nothing read yet
}

// SetPolicy stores settings for one scope; an empty value removes the key from the scope.
func (s *Store) SetPolicy(ctx context.Context, scope string, kv map[string]string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for k, v := range kv {
			var err error
			if v == "" {
				_, err = tx.Exec(`DELETE FROM policy_settings WHERE scope = ? AND key = ?`, scope, k)
			} else {
				_, err = tx.Exec(`INSERT INTO policy_settings(scope, key, value) VALUES (?, ?, ?)
					ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value`, scope, k, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// PolicySettings returns every stored setting: scope → key → value. The map is shared between
// callers until the settings change: do not modify it. A change made by any process, through
// any connection, is seen by the next call (policy_version).
func (s *Store) PolicySettings(ctx context.Context) (map[string]map[string]string, error) {
	if s.rdb.closed.Load() {
		return nil, ErrClosed
	}
	c := &s.policy
	c.prepare.Do(func() { c.stmt, c.err = s.rdb.Prepare(`SELECT n FROM policy_version WHERE id = 1`) })
	if c.err != nil {
		return nil, c.err
	}
	var version int64
	if err := c.stmt.QueryRowContext(ctx).Scan(&version); err != nil {
		return nil, s.rdb.closedErr(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.settings != nil && c.version == version {
		return c.settings, nil
	}
	// Read after the version: a change in between makes the next call read again.
	settings, err := s.readPolicySettings(ctx)
	if err != nil {
		return nil, err
	}
	c.version, c.settings = version, settings
	return settings, nil
}

func (s *Store) readPolicySettings(ctx context.Context) (map[string]map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT scope, key, value FROM policy_settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return ScanPolicySettings(rows)
}
