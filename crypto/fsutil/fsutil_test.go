package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyncPath: a file and a directory sync; a missing path is an error.
func TestSyncPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		if err := SyncPath(p); err != nil {
			t.Errorf("SyncPath(%s): %v", p, err)
		}
	}
	if err := SyncPath(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("SyncPath(missing) = %v, want not-exist", err)
	}
}
