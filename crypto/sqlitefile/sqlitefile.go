// Package sqlitefile prepares the files of an embedded SQLite database (mail.db, keys.db) so
// that they are readable by their owner only, whatever the process umask, and opens the
// database with the settings both embedded stores share (Open).
//
// SQLite creates a database's -wal, -shm and -journal files with the permission bits of the
// database file itself (unix VFS, findCreateFileMode), so creating the database file 0600
// before SQLite opens it is enough for every file made later. Files made by an older version
// with wider permissions are narrowed.
package sqlitefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// companions are the files SQLite keeps beside a database.
var companions = [...]string{"", "-wal", "-shm", "-journal"}

// PrepareOwnerOnly creates the database file path with mode 0600 when it is missing, and
// removes group and other permissions from it and its companions when they exist.
func PrepareOwnerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlitefile: %w", err)
	}
	f.Close()
	for _, suffix := range companions {
		p := path + suffix
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlitefile: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("sqlitefile: %w", err)
			}
		}
	}
	return nil
}
