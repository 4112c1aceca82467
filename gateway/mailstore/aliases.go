package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// schemaAliases: alias → targets. The key "@domain" is the domain's catch-all.
const schemaAliases = `
CREATE TABLE IF NOT EXISTS aliases (
	address_key TEXT PRIMARY KEY,   -- case-folded address, or "@domain"
	address     TEXT NOT NULL,      -- as given
	targets     TEXT NOT NULL       -- one address per line
) STRICT, WITHOUT ROWID;
`

// Alias is an address that expands to other addresses.
type Alias struct {
	Address string
	Targets []string
}

// SetAlias creates or replaces an alias. check runs inside the write transaction with the
// aliases as they would be after the change, so a loop check sees concurrent changes too.
func (s *Store) SetAlias(ctx context.Context, key string, a Alias, check func(all map[string]Alias) error) error {
	return s.writeDirectory(ctx, func(tx *sql.Tx) error {
		if check != nil {
			all, err := aliasesTx(tx)
			if err != nil {
				return err
			}
			all[key] = a
			if err := check(all); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO aliases(address_key, address, targets) VALUES (?, ?, ?)
			ON CONFLICT(address_key) DO UPDATE SET address = excluded.address, targets = excluded.targets`,
			key, a.Address, TargetsColumn(a.Targets))
		return err
	})
}

// DeleteAlias removes an alias; ErrNotFound when there is none.
func (s *Store) DeleteAlias(ctx context.Context, key string) error {
	return s.writeDirectory(ctx, func(tx *sql.Tx) error {
		return execOne(tx, `DELETE FROM aliases WHERE address_key = ?`, key)
	})
}

// readAlias reads one alias, or ErrNotFound (AliasByKey reads through the directory cache).
func (s *Store) readAlias(ctx context.Context, key string) (Alias, error) {
	a, err := ScanAlias(s.rdb.QueryRowContext(ctx, `SELECT address, targets FROM aliases WHERE address_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Alias{}, ErrNotFound
	}
	return a, err
}

// Aliases returns every alias by key.
func (s *Store) Aliases(ctx context.Context) (map[string]Alias, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return aliasesTx(tx)
}

func aliasesTx(tx *sql.Tx) (map[string]Alias, error) {
	rows, err := tx.Query(`SELECT address_key, address, targets FROM aliases`)
	return sqlrows.Read(rows, err, ScanAliases)
}

// FirstUser returns the account created first, or ErrNotFound.
func (s *Store) FirstUser(ctx context.Context) (User, error) {
	var u User
	var created int64
	err := s.rdb.QueryRowContext(ctx, `SELECT id, address, created FROM users ORDER BY id LIMIT 1`).Scan(&u.ID, &u.Address, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	u.Created = time.Unix(created, 0)
	return u, err
}
