package keys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sealgate/sealgate/crypto/fsutil"
)

// Files keeps the small named files that every gateway node sharing a store must see alike:
// the DKIM signing keys and their records, the SRS secret and the self-signed TLS
// certificate. Names are slash-separated relative paths ("dkim/example.test/ACTIVE"). A
// Files never seals or opens anything: callers seal secret contents with the master key
// before they write them, so nothing secret reaches a Files in plaintext.
//
// DirFiles keeps them under the data directory (the embedded backend); keys/pgkeys keeps
// them in the shared database, where a file written on one node is read on every other.
type Files interface {
	// ReadFile returns the contents of name, or an error matching fs.ErrNotExist.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// WriteFile creates or replaces name durably.
	WriteFile(ctx context.Context, name string, data []byte) error
	// CreateFile stores name only when it does not exist yet, all at once: of several
	// callers racing to create one name, one succeeds and the others get an error matching
	// fs.ErrExist, and nobody ever reads a partly written file.
	CreateFile(ctx context.Context, name string, data []byte) error
	// List returns the names of the files directly in dir ("" is the top), sorted.
	List(ctx context.Context, dir string) ([]string, error)
}

// CheckFileName refuses names that could leave the store's root: absolute paths, "..", empty
// elements and backslashes. Implementations of Files call it on every name.
func CheckFileName(name string) error {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) || path.Clean(name) != name ||
		name == "." || name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("keys: %q is not a valid file name", name)
	}
	return nil
}

// DirFiles is Files in a directory on disk, the data directory of an embedded gateway: the
// name "dkim/example.test/ACTIVE" is the file DIR/dkim/example.test/ACTIVE. Writes are
// durable (temporary file, fsync, rename or link, directory fsync); files and directories
// are created 0600 and 0700.
type DirFiles struct {
	Dir string
}

var _ Files = DirFiles{}

func (d DirFiles) path(name string) (string, error) {
	if err := CheckFileName(name); err != nil {
		return "", err
	}
	return filepath.Join(d.Dir, filepath.FromSlash(name)), nil
}

// ReadFile implements Files.
func (d DirFiles) ReadFile(_ context.Context, name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// WriteFile implements Files.
func (d DirFiles) WriteFile(_ context.Context, name string, data []byte) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return writeFileDurable(p, data, 0o600)
}

// CreateFile implements Files: the contents are written to a temporary file first and
// linked into place, which fails when the name exists.
func (d DirFiles) CreateFile(_ context.Context, name string, data []byte) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := writeTemp(dir, data, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keys: %s: %w", name, fs.ErrExist)
		}
		return err
	}
	return fsutil.SyncPath(dir)
}

// List implements Files.
func (d DirFiles) List(_ context.Context, dir string) ([]string, error) {
	p := d.Dir
	if dir != "" {
		var err error
		if p, err = d.path(dir); err != nil {
			return nil, err
		}
	}
	ents, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".tmp-") {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// CreateOrReadFile stores data under name unless the name exists, and returns what is
// stored under it then: data, or the file another process or node created first.
func CreateOrReadFile(ctx context.Context, f Files, name string, data []byte) ([]byte, error) {
	err := f.CreateFile(ctx, name, data)
	if err == nil {
		return data, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return f.ReadFile(ctx, name)
}
