package pgkeys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealgate/sealgate/keys"
)

// Files is keys.Files in the shared database (table keyring_files): a file written by one
// node is read by every other at its next read. It stores what it is given; secret contents
// arrive sealed with the master key. It is safe for concurrent use.
type Files struct {
	pool *pgxpool.Pool
}

var _ keys.Files = (*Files)(nil)

// OpenFiles connects to the database dsn names and checks its keyring schema, as Open does.
func OpenFiles(ctx context.Context, dsn string) (*Files, error) {
	pool, err := openPool(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return &Files{pool: pool}, nil
}

// Close closes the connections.
func (f *Files) Close() error {
	f.pool.Close()
	return nil
}

// ReadFile implements keys.Files.
func (f *Files) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := keys.CheckFileName(name); err != nil {
		return nil, err
	}
	var data []byte
	err := f.pool.QueryRow(ctx, `SELECT data FROM keyring_files WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgkeys: %s: %w", name, fs.ErrNotExist)
	}
	return data, err
}

// WriteFile implements keys.Files.
func (f *Files) WriteFile(ctx context.Context, name string, data []byte) error {
	if err := keys.CheckFileName(name); err != nil {
		return err
	}
	_, err := f.pool.Exec(ctx, `INSERT INTO keyring_files (name, data, updated) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated = excluded.updated`,
		name, nonNil(data), time.Now().UnixNano())
	return err
}

// CreateFile implements keys.Files: the primary key decides between nodes racing to create
// one name.
func (f *Files) CreateFile(ctx context.Context, name string, data []byte) error {
	if err := keys.CheckFileName(name); err != nil {
		return err
	}
	tag, err := f.pool.Exec(ctx, `INSERT INTO keyring_files (name, data, updated) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, nonNil(data), time.Now().UnixNano())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgkeys: %s: %w", name, fs.ErrExist)
	}
	return nil
}

// List implements keys.Files.
func (f *Files) List(ctx context.Context, dir string) ([]string, error) {
	prefix := ""
	if dir != "" {
		if err := keys.CheckFileName(dir); err != nil {
			return nil, err
		}
		prefix = dir + "/"
	}
	rows, err := f.pool.Query(ctx, `SELECT name FROM keyring_files
		WHERE starts_with(name, $1) AND strpos(substr(name, length($1) + 1), '/') = 0
		ORDER BY name COLLATE "C"`, prefix)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
