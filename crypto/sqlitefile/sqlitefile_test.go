package sqlitefile

import (
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
