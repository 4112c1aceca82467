package mailstore

import (
	"context"
	"database/sql"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// schemaPolicy: operators' policy settings (see package policy), KEY=VALUE per scope.
const schemaPolicy = `
CREATE TABLE IF NOT EXISTS policy_settings (
	scope TEXT NOT NULL, -- "global", a domain, or an address
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
`

// SetPolicy stores settings for one scope; an empty value removes the key from the scope.
func (s *Store) SetPolicy(ctx context.Context, scope string, kv map[string]string) error {
	return s.writeDirectory(ctx, func(tx *sql.Tx) error {
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

func (s *Store) readPolicySettings(ctx context.Context) (map[string]map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT scope, key, value FROM policy_settings`)
	return sqlrows.Read(rows, err, ScanPolicySettings)
}
