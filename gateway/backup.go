package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/fsutil"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/keys"
)

// A backup of the embedded store is a directory:
//
//	mail.db                 the mail store's database, as one read transaction saw it
//	blobs/xx/ID             every body file that database references
//	keys.db                 the keyring's database, likewise
//	dkim/, tls/, srs.secret, sealgate.toml, ...   every other file of the data directory
//	master.key              only when the master key lives in the data directory
//	sealgate-backup.json    the manifest, written last: a backup without it is incomplete
//
// Left out: the change counters (*.changes, made anew), the SMTP spool of messages not yet
// acknowledged (spool/), SQLite's -wal and -shm files (their commits are in the copies).
//
// The master key: private keys in keys.db, dkim/ and tls/ are sealed with it, so a backup
// restores only with the same key. The manifest holds the key's id (a hash, not the key).
// When the key is the data directory's own master.key, the backup carries it (it is then as
// secret as the data directory itself) unless WithoutMasterKey; when [keys] master_key_file or
// SEALGATE_MASTER_KEY_FILE puts it elsewhere, it is never copied, and the operator keeps it
// (restore checks the id).

// BackupManifestFile names the manifest in a backup directory.
const BackupManifestFile = "sealgate-backup.json"

const backupFormat = 1

// ErrBackupPostgres: the postgres backend keeps everything in the database, which pg_dump
// backs up.
var ErrBackupPostgres = errors.New(`backup and restore are for the embedded store; with [storage] backend = "postgres" back up the database with pg_dump and keep the master key (docs/DEPLOY.md)`)

// BackupManifest describes a backup.
type BackupManifest struct {
	Format      int       `json:"format"`
	Created     time.Time `json:"created"`
	Version     string    `json:"version"`
	Hostname    string    `json:"hostname"`
	Bodies      int       `json:"bodies"`        // body files copied
	Files       int       `json:"files"`         // other files copied
	MasterKey   string    `json:"master_key"`    // "included", "separate" or "none"
	MasterKeyID string    `json:"master_key_id"` // MasterKeyID of the key the backup needs
}

// BackupOptions say what to back up and where.
type BackupOptions struct {
	Config  *config.Config
	DataDir string
	// MasterKeyFile is the master key in use; "" is the config's.
	MasterKeyFile string
	// Dest is the backup directory; it must not exist or be empty.
	Dest string
	// WithoutMasterKey leaves the data directory's master.key out of the backup.
	WithoutMasterKey bool
	Version          string // recorded in the manifest
}

// MasterKeyID identifies a master key file's key without revealing it: the first 16 bytes
// of the SHA-256 of its text, in hex.
func MasterKeyID(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte("sealgate master key id\n" + strings.TrimSpace(string(raw))))
	return hex.EncodeToString(sum[:16]), nil
}

// Backup copies the embedded store, keyring and data files of a data directory that a server
// may be using, to o.Dest, then checks the copy as `sealgate check` does. Every message
// acknowledged before Backup began is in the copy.
func Backup(ctx context.Context, o BackupOptions) (BackupManifest, error) {
	cfg := o.Config
	if cfg.Storage.Backend != config.BackendEmbedded {
		return BackupManifest{}, ErrBackupPostgres
	}
	if inside(o.Dest, o.DataDir) {
		return BackupManifest{}, fmt.Errorf("%s is inside the data directory; back up elsewhere", o.Dest)
	}
	if err := emptyDir(o.Dest); err != nil {
		return BackupManifest{}, err
	}
	m := BackupManifest{Format: backupFormat, Created: time.Now().UTC(), Version: o.Version, Hostname: cfg.Hostname, MasterKey: "none"}
	mkPath := o.MasterKeyFile
	if mkPath == "" {
		mkPath = cfg.Keys.MasterKeyPath(o.DataDir)
	}
	id, err := MasterKeyID(mkPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return m, fmt.Errorf("master key: %w", err)
	default:
		m.MasterKeyID, m.MasterKey = id, "separate"
	}
	n, err := mailstore.Snapshot(ctx, o.DataDir, o.Dest)
	if err != nil {
		return m, err
	}
	m.Bodies = n
	if err := mailstore.SnapshotDB(ctx, filepath.Join(o.DataDir, "keys.db"), filepath.Join(o.Dest, "keys.db")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, err
	}
	inDir := func(rel string) bool { return false }
	if rel, err := filepath.Rel(o.DataDir, mkPath); err == nil && filepath.IsLocal(rel) {
		inDir = func(r string) bool { return r == rel }
		if m.MasterKey == "separate" && !o.WithoutMasterKey {
			if err := mailstore.CopyFile(mkPath, filepath.Join(o.Dest, "master.key")); err != nil {
				return m, err
			}
			m.MasterKey = "included"
		}
	}
	err = filepath.WalkDir(o.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.DataDir, path)
		if rel == "." {
			return nil
		}
		if skipInBackup(rel, d.IsDir()) || inDir(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		m.Files++
		return mailstore.CopyFile(path, filepath.Join(o.Dest, rel))
	})
	if err != nil {
		return m, err
	}
	if probs, err := checkStore(o.Dest); err != nil {
		return m, fmt.Errorf("checking the backup: %w", err)
	} else if len(probs) > 0 {
		return m, fmt.Errorf("the backup is not consistent: %s", strings.Join(probs, "; "))
	}
	return m, writeManifest(o.Dest, m)
}

// skipInBackup: what Backup does not copy from the data directory as a plain file.
func skipInBackup(rel string, dir bool) bool {
	base := filepath.Base(rel)
	switch {
	case dir:
		return rel == "blobs" || rel == "spool"
	case rel == "mail.db", rel == "keys.db", rel == nodeFile, rel == BackupManifestFile,
		strings.HasSuffix(base, ".changes"), strings.HasSuffix(base, "-wal"), strings.HasSuffix(base, "-shm"),
		strings.HasSuffix(base, "-journal"), strings.HasPrefix(base, ".tmp"):
		return true
	}
	return false
}

// checkStore opens the store in dir and returns what `sealgate check` would report.
func checkStore(dir string) ([]string, error) {
	s, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		return nil, err
	}
	probs, err := s.Check(context.Background())
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return probs, err
}

func writeManifest(dir string, m BackupManifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, BackupManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	if err := mailstore.CopyFile(tmp, filepath.Join(dir, BackupManifestFile)); err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	return fsutil.SyncPath(dir)
}

// ReadBackupManifest reads the manifest of the backup in dir; a directory without one is not
// a (complete) backup.
func ReadBackupManifest(dir string) (BackupManifest, error) {
	var m BackupManifest
	f, err := os.Open(filepath.Join(dir, BackupManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("%s is not a complete Sealgate backup (no %s)", dir, BackupManifestFile)
	}
	if err != nil {
		return m, err
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("%s: %w", BackupManifestFile, err)
	}
	if m.Format != backupFormat {
		return m, fmt.Errorf("%s: backup format %d; this Sealgate reads format %d", BackupManifestFile, m.Format, backupFormat)
	}
	return m, nil
}

// RestoreOptions say which backup to restore where.
type RestoreOptions struct {
	Source  string // the backup directory
	DataDir string // the new data directory: absent, or without a store
	// MasterKeyFile is where the new data directory's master key is (or is to be put): the
	// configured one, else DataDir/master.key.
	MasterKeyFile string
	Config        *config.Config // the configuration the restored directory is used with
}

// Restore makes a data directory from a backup and checks it as `sealgate check` does. The
// master key at o.MasterKeyFile must be the backup's; when there is none there and the backup
// carries its key, the key is put there.
func Restore(ctx context.Context, o RestoreOptions) (BackupManifest, []string, error) {
	m, err := ReadBackupManifest(o.Source)
	if err != nil {
		return m, nil, err
	}
	for _, f := range []string{"mail.db", "keys.db"} {
		if _, err := os.Stat(filepath.Join(o.DataDir, f)); err == nil {
			return m, nil, fmt.Errorf("%s already holds a store (%s); restore into a new directory", o.DataDir, f)
		}
	}
	if inside(o.Source, o.DataDir) || inside(o.DataDir, o.Source) {
		return m, nil, fmt.Errorf("the backup %s and the data directory %s overlap", o.Source, o.DataDir)
	}
	if err := OpenDataDir(o.DataDir); err != nil {
		return m, nil, err
	}
	if err := restoreMasterKey(o, m); err != nil {
		return m, nil, err
	}
	err = filepath.WalkDir(o.Source, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(o.Source, path)
		if rel == BackupManifestFile || rel == "master.key" || skipInBackup(rel, false) && rel != "mail.db" && rel != "keys.db" {
			return nil
		}
		return mailstore.CopyFile(path, filepath.Join(o.DataDir, rel))
	})
	if err != nil {
		return m, nil, err
	}
	probs, err := checkStore(o.DataDir)
	if err != nil {
		return m, nil, err
	}
	mk, err := keys.LoadOrCreateMasterKey(o.MasterKeyFile)
	if err != nil {
		return m, probs, err
	}
	probs = append(probs, CheckSecrets(ctx, o.Config, dirFiles{keys.DirFiles{Dir: o.DataDir}}, mk)...)
	return m, probs, nil
}

// restoreMasterKey makes sure the new data directory will use the backup's master key.
func restoreMasterKey(o RestoreOptions, m BackupManifest) error {
	if m.MasterKey == "none" {
		return nil
	}
	id, err := MasterKeyID(o.MasterKeyFile)
	switch {
	case err == nil && id != m.MasterKeyID:
		return fmt.Errorf("the master key %s is not the one the backup was made with (id %s, want %s)", o.MasterKeyFile, id, m.MasterKeyID)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("master key: %w", err)
	case m.MasterKey != "included":
		return fmt.Errorf("the backup does not carry its master key (id %s): put that key at %s, or name it with SEALGATE_MASTER_KEY_FILE or [keys] master_key_file", m.MasterKeyID, o.MasterKeyFile)
	}
	if err := mailstore.CopyFile(filepath.Join(o.Source, "master.key"), o.MasterKeyFile); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if id, err := MasterKeyID(o.MasterKeyFile); err != nil || id != m.MasterKeyID {
		return fmt.Errorf("the backup's master.key does not match its manifest")
	}
	return nil
}

// inside reports whether path is dir or under it.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// emptyDir creates dir (0700) or accepts an existing empty one.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(es) > 0 {
		return fmt.Errorf("%s is not empty; back up into a new directory", dir)
	}
	return nil
}
