package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealgate/sealgate/crypto/fsutil"
	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// snapshotTries bounds Snapshot's attempts: each one that fails lost a race with a deletion
// of a message delivered during the backup, which needs ever more luck to repeat.
const snapshotTries = 8

// ErrSnapshotRace: Snapshot did not get a consistent copy in snapshotTries attempts, because
// bodies were deleted faster than it copied them.
var ErrSnapshotRace = errors.New("mailstore: snapshot: bodies kept disappearing while copying; try again")

// SnapshotDB writes a transactionally consistent copy of the SQLite database at src to dst
// (which must not exist) with VACUUM INTO: one read transaction, so a running server keeps
// writing meanwhile and the copy holds exactly the commits before it began. The copy is
// fsynced.
func SnapshotDB(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(15000)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("snapshot of %s: %w", filepath.Base(src), err)
	}
	if err := os.Chmod(dst, 0o600); err != nil {
		return err
	}
	return fsutil.SyncPath(dst)
}

// Snapshot copies the store in dir to dst (created 0700, empty or absent) while the store
// may be in use by other processes: the database as SnapshotDB makes it (dst/mail.db), then
// the body file of every body that copy references (dst/blobs/...). A body file exists from
// before the commit that references it until after the commit that drops its last reference;
// when one is gone before it is copied, the message was deleted after the database copy was
// taken, and Snapshot takes the database again (keeping the files copied so far). It returns
// the number of body files copied.
func Snapshot(ctx context.Context, dir, dst string) (int, error) {
	if err := os.MkdirAll(filepath.Join(dst, "blobs"), 0o700); err != nil {
		return 0, err
	}
	if _, err := os.Stat(filepath.Join(dir, "mail.db")); err != nil {
		return 0, fmt.Errorf("mailstore: no mail store in %s: %w", dir, err)
	}
	copied := map[string]bool{}
	for try := 0; try < snapshotTries; try++ {
		db := filepath.Join(dst, "mail.db")
		if err := os.Remove(db); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		if err := SnapshotDB(ctx, filepath.Join(dir, "mail.db"), db); err != nil {
			return 0, err
		}
		paths, err := bodyPaths(ctx, db)
		if err != nil {
			return 0, err
		}
		lost := false
		for _, p := range paths {
			if copied[p] {
				continue
			}
			if !filepath.IsLocal(p) || !strings.HasPrefix(filepath.ToSlash(p), "blobs/") {
				return 0, fmt.Errorf("mailstore: snapshot: body path %q is outside blobs/", p)
			}
			err := CopyFile(filepath.Join(dir, p), filepath.Join(dst, p))
			if errors.Is(err, fs.ErrNotExist) {
				lost = true
				continue
			}
			if err != nil {
				return 0, err
			}
			copied[p] = true
		}
		if !lost {
			if err := syncDirs(filepath.Join(dst, "blobs")); err != nil {
				return 0, err
			}
			return len(paths), nil
		}
	}
	return 0, ErrSnapshotRace
}

// bodyPaths lists the body files the database at path references.
func bodyPaths(ctx context.Context, path string) ([]string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT path FROM bodies WHERE path IS NOT NULL`)
	return sqlrows.CollectColumn[string](rows, err)
}

// CopyFile copies the file src to dst (mode 0600, parents created 0700) and fsyncs it.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDirs fsyncs root and every directory under it.
func syncDirs(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return fsutil.SyncPath(path)
	})
}
