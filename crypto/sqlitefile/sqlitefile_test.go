package sqlitefile

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// TestPrepareOwnerOnly: a missing database is created 0600; a database and companions left
// 0644 by an older version are narrowed to 0600.
func TestPrepareOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	if err := PrepareOwnerOnly(fresh); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.db")
	for _, s := range []string{"", "-wal", "-shm"} {
		if err := os.WriteFile(old+s, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(old+s, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := PrepareOwnerOnly(old); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fresh, old, old + "-wal", old + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", p, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(old + "-journal"); err == nil {
		t.Error("a missing companion was created")
	}
}

// TestOpen: both pools run in WAL mode with foreign keys on and the store's own parameters;
// the writer is one connection; the database file is its owner's only.
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, Options{WriterParams: "&_pragma=cache_size(-4000)", ReaderParams: "&_pragma=cache_size(-3000)"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Writer.Close()
	defer db.Reader.Close()
	if _, err := db.Writer.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer", db.Writer, "journal_mode", "wal"},
		{"writer", db.Writer, "foreign_keys", "1"},
		{"writer", db.Writer, "synchronous", "2"},
		{"writer", db.Writer, "cache_size", "-4000"},
		{"reader", db.Reader, "journal_mode", "wal"},
		{"reader", db.Reader, "foreign_keys", "1"},
		{"reader", db.Reader, "cache_size", "-3000"},
	} {
		var got string
		if err := c.db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: %s = %s, want %s", c.name, c.pragma, got, c.want)
		}
	}
	if n := db.Writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool of %d connections", n)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file is %v, want 0600", fi.Mode().Perm())
	}
}
