package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// User is an account.
type User struct {
	ID           int64
	Address      string
	PasswordHash string
	Created      time.Time
}

// DefaultMailboxes are created with every user: name and RFC 6154 special use.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// AddUser creates an account with its default mailboxes. It fails with ErrExists when an
// account with the same (case-folded) address exists.
func (s *Store) AddUser(ctx context.Context, addr address.Address, passwordHash string) (User, error) {
	u := User{Address: addr.String(), PasswordHash: passwordHash, Created: s.opts.Now().Truncate(time.Second)}
	err := s.writeDirectory(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO users(address, address_key, password_hash, created) VALUES (?, ?, ?, ?)
			ON CONFLICT(address_key) DO NOTHING`, u.Address, addr.Key(), passwordHash, u.Created.Unix())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrExists
		}
		u.ID, _ = res.LastInsertId()
		if _, err := tx.Exec(`INSERT INTO quotas(user_id) VALUES (?)`, u.ID); err != nil {
			return err
		}
		for _, mb := range DefaultMailboxes {
			if _, err := createMailboxTx(tx, u.ID, mb.Name, mb.SpecialUse); err != nil {
				return err
			}
		}
		return nil
	})
	return u, err
}

// readUser reads the account whose address key is key (UserByAddress reads through the
// directory cache).
func (s *Store) readUser(ctx context.Context, key string) (User, error) {
	var u User
	var created int64
	err := s.rdb.QueryRowContext(ctx, `SELECT id, address, password_hash, created FROM users WHERE address_key = ?`,
		key).Scan(&u.ID, &u.Address, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	u.Created = time.Unix(created, 0)
	return u, err
}

// Users lists every account, ordered by address.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, address, created FROM users ORDER BY address_key`)
	return sqlrows.Read(rows, err, ScanUsers)
}

// SetPasswordHash replaces an account's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, addr address.Address, hash string) error {
	return s.writeDirectory(ctx, func(tx *sql.Tx) error {
		return execOne(tx, `UPDATE users SET password_hash = ? WHERE address_key = ?`, hash, addr.Key())
	})
}

// DeleteUser removes an account with all its mailboxes and messages.
func (s *Store) DeleteUser(ctx context.Context, addr address.Address) error {
	err := s.writeDirectory(ctx, func(tx *sql.Tx) error {
		return execOne(tx, `DELETE FROM users WHERE address_key = ?`, addr.Key())
	})
	if err == nil {
		err = s.removeDeadFiles(ctx)
	}
	return err
}

func (s *Store) removeDeadFiles(ctx context.Context) error {
	var dead []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		dead, err = sqlrows.CollectColumn[string](tx.Query(`DELETE FROM dead_files RETURNING path`))
		return err
	})
	if err != nil {
		return err
	}
	for _, p := range dead {
		if err := removeFile(s.dir, p); err != nil {
			return err
		}
	}
	return nil
}

// createMailboxTx creates one mailbox with a fresh UIDVALIDITY: ErrExists when the user has
// one of that name, ErrNotFound when there is no such user.
func createMailboxTx(tx *sql.Tx, userID int64, name, specialUse string) (int64, error) {
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	var uv int64
	if err := tx.QueryRow(`UPDATE meta SET value = value + 1 WHERE key = 'uidvalidity_next' RETURNING value - 1`).Scan(&uv); err != nil {
		return 0, err
	}
	res, err := tx.Exec(`INSERT INTO mailboxes(user_id, name, special_use, uidvalidity) VALUES (?, ?, ?, ?)
		ON CONFLICT(user_id, name) DO NOTHING`, userID, name, specialUse, uint32(uv))
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) && sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return 0, ErrNotFound // mailboxes.user_id: no such user
	}
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, ErrExists
	}
	return res.LastInsertId()
}
