package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// AddUser creates an account with its default mailboxes. It fails with mailstore.ErrExists
// when an account with the same (case-folded) address exists.
func (s *Store) AddUser(ctx context.Context, addr address.Address, passwordHash string) (mailstore.User, error) {
	u := mailstore.User{Address: addr.String(), PasswordHash: passwordHash, Created: s.opts.Now().Truncate(time.Second)}
	names := make([]string, len(mailstore.DefaultMailboxes))
	uses := make([]string, len(mailstore.DefaultMailboxes))
	for i, mb := range mailstore.DefaultMailboxes {
		names[i], uses[i] = mb.Name, mb.SpecialUse
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users(address, address_key, password_hash, created) VALUES ($1, $2, $3, $4)
			ON CONFLICT (address_key) DO NOTHING RETURNING id`, u.Address, addr.Key(), passwordHash, u.Created.Unix()).Scan(&u.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return mailstore.ErrExists
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO mailboxes(user_id, name, special_use, uidvalidity)
			SELECT $1, n, u, nextval('uidvalidity_seq') FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(n, u, i) ORDER BY i`,
			u.ID, names, uses)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO quotas(user_id) VALUES ($1)`, u.ID)
		return err
	})
	if err != nil {
		return mailstore.User{}, err
	}
	return u, nil
}

// UserByAddress finds an account by address (case-insensitively).
func (s *Store) UserByAddress(ctx context.Context, addr address.Address) (mailstore.User, error) {
	var u mailstore.User
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT id, address, password_hash, created FROM users WHERE address_key = $1`,
		addr.Key()).Scan(&u.ID, &u.Address, &u.PasswordHash, &created)
	if err != nil {
		return mailstore.User{}, notFound(err)
	}
	u.Created = time.Unix(created, 0)
	return u, nil
}

// Users lists every account, ordered by address.
func (s *Store) Users(ctx context.Context) ([]mailstore.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, address, created FROM users ORDER BY address_key COLLATE "C"`)
	return sqlrows.Read(rows, err, mailstore.ScanUsers)
}

// FirstUser returns the account created first, or mailstore.ErrNotFound.
func (s *Store) FirstUser(ctx context.Context) (mailstore.User, error) {
	var u mailstore.User
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT id, address, created FROM users ORDER BY id LIMIT 1`).Scan(&u.ID, &u.Address, &created)
	if err != nil {
		return mailstore.User{}, notFound(err)
	}
	u.Created = time.Unix(created, 0)
	return u, nil
}

// SetPasswordHash replaces an account's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, addr address.Address, hash string) error {
	return s.execOne(ctx, `UPDATE users SET password_hash = $1 WHERE address_key = $2`, hash, addr.Key())
}

// DeleteUser removes an account with all its mailboxes and messages.
func (s *Store) DeleteUser(ctx context.Context, addr address.Address) error {
	return s.execOne(ctx, `DELETE FROM users WHERE address_key = $1`, addr.Key())
}

// execOne runs one statement and fails with mailstore.ErrNotFound when it changed no row.
func (s *Store) execOne(ctx context.Context, sql string, args ...any) error {
	if s.closed.Load() {
		return mailstore.ErrClosed
	}
	for attempt := 1; ; attempt++ {
		tag, err := s.pool.Exec(ctx, sql, args...)
		if attempt < maxAttempts && retryable(err) {
			continue
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return mailstore.ErrNotFound
		}
		return nil
	}
}

// SetAlias creates or replaces an alias. check runs inside the transaction with the aliases
// as they would be after the change; the transaction holds a lock that every SetAlias takes,
// so a loop check sees concurrent changes made on any node.
func (s *Store) SetAlias(ctx context.Context, key string, a mailstore.Alias, check func(all map[string]mailstore.Alias) error) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if check != nil {
			if _, err := tx.Exec(ctx, `LOCK TABLE aliases IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
			all, err := aliases(ctx, tx)
			if err != nil {
				return err
			}
			all[key] = a
			if err := check(all); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO aliases(address_key, address, targets) VALUES ($1, $2, $3)
			ON CONFLICT (address_key) DO UPDATE SET address = excluded.address, targets = excluded.targets`,
			key, a.Address, mailstore.TargetsColumn(a.Targets))
		return err
	})
}

// DeleteAlias removes an alias; mailstore.ErrNotFound when there is none.
func (s *Store) DeleteAlias(ctx context.Context, key string) error {
	return s.execOne(ctx, `DELETE FROM aliases WHERE address_key = $1`, key)
}

// AliasByKey returns one alias, or mailstore.ErrNotFound.
func (s *Store) AliasByKey(ctx context.Context, key string) (mailstore.Alias, error) {
	a, err := mailstore.ScanAlias(s.pool.QueryRow(ctx, `SELECT address, targets FROM aliases WHERE address_key = $1`, key))
	if err != nil {
		return mailstore.Alias{}, notFound(err)
	}
	return a, nil
}

// Aliases returns every alias by key.
func (s *Store) Aliases(ctx context.Context) (map[string]mailstore.Alias, error) {
	return aliases(ctx, s.pool)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func aliases(ctx context.Context, q querier) (map[string]mailstore.Alias, error) {
	rows, err := q.Query(ctx, `SELECT address_key, address, targets FROM aliases`)
	return sqlrows.Read(rows, err, mailstore.ScanAliases)
}

// policyCache holds the settings read at one policy_version.
type policyCache struct {
	mu       sync.Mutex
	version  int64
	settings map[string]map[string]string // nil: nothing read yet
}

// SetPolicy stores settings for one scope; an empty value removes the key from the scope.
func (s *Store) SetPolicy(ctx context.Context, scope string, kv map[string]string) error {
	bt := &pgx.Batch{}
	for k, v := range kv {
		if v == "" {
			bt.Queue(`DELETE FROM policy_settings WHERE scope = $1 AND key = $2`, scope, k)
		} else {
			bt.Queue(`INSERT INTO policy_settings(scope, key, value) VALUES ($1, $2, $3)
				ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value`, scope, k, v)
		}
	}
	if bt.Len() == 0 {
		return nil
	}
	return s.batch(ctx, bt, func(br pgx.BatchResults) error {
		for range bt.Len() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	})
}

// PolicySettings returns every stored setting: scope → key → value. The map is shared between
// callers until the settings change: do not modify it. A change made through any node is
// seen by the next call (one point query on policy_version per call).
func (s *Store) PolicySettings(ctx context.Context) (map[string]map[string]string, error) {
	version, err := s.readPolicyVersion(ctx)
	if err != nil {
		return nil, err
	}
	c := &s.policy
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.settings != nil && c.version == version {
		return c.settings, nil
	}
	// Read after the version: a change in between makes the next call read again.
	rows, err := s.pool.Query(ctx, `SELECT scope, key, value FROM policy_settings`)
	out, err := sqlrows.Read(rows, err, mailstore.ScanPolicySettings)
	if err != nil {
		return nil, err
	}
	c.version, c.settings = version, out
	return out, nil
}
