package gateway_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestDataFilesOwnerOnly: after a delivery every file of the
// data directory — mail.db, keys.db and the -wal/-shm files SQLite makes later included — is
// readable by its owner only.
func TestDataFilesOwnerOnly(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("bob@localhost", bobPW)
	mustMX(t, env, "x@outside.test", "bob@localhost", []byte("Subject: x\r\n\r\nx\r\n"))
	if _, err := env.GW.Keyring().Entries(t.Context(), "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mail.db", "mail.db-wal", "mail.db-shm", "keys.db", "keys.db-wal", "keys.db-shm"} {
		if _, err := os.Stat(filepath.Join(env.Dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	err := filepath.WalkDir(env.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: group or others may read it", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
