package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/keys"
	"github.com/sealgate/sealgate/keys/pgkeys"
)

// store is the mail store the gateway's parts share: the whole store contract, of which each
// part's Store or Accounts interface is one role. Each [storage] backend implements it.
type store = mailstore.Backend

// The parts take the store as their own Store or Accounts; pgstore also counts failed logins
// across nodes.
var _ auth.FailureStore = (*pgstore.Store)(nil)

// StoreOptions are what the gateway's parts want of the mail store and to hear from it.
type StoreOptions struct {
	// OnCommit is told of every committed delivery (IMAP IDLE, the queue runner); with
	// postgres, of other nodes' deliveries too.
	OnCommit func(mailstore.Delivered)
	// OnChange is told of a user whose mailboxes another node changed (IMAP IDLE). The
	// embedded store has one process serving IMAP, which notifies its sessions itself.
	OnChange func(userID int64)
	// Node names this node in a shared database (claimNode); "" is a random name.
	Node string
	// DefaultQuota is [limits] mailbox_quota, the storage limit the store enforces for
	// accounts without one of their own.
	DefaultQuota int64
}

// Storage is the [storage] backend, picked once from the config by OpenStorage: everything
// that differs between the embedded store and PostgreSQL is a method of it, so no other code
// asks which backend is configured.
type Storage interface {
	// OpenStore opens the mail store. A PostgreSQL database whose schema is missing, older
	// or newer than this Sealgate's is refused (`sealgate db migrate`).
	OpenStore(ctx context.Context, o StoreOptions) (mailstore.Backend, error)
	// OpenKeyring opens the keyring: DIR/keys.db with the embedded backend, the database's
	// keyring tables with postgres (their schema must be current). opts.Backend is set here.
	OpenKeyring(ctx context.Context, mk *keys.MasterKey, opts keys.Options) (*keys.Keyring, error)
	// OpenSharedFiles opens the files every node must see alike: the data directory with
	// the embedded backend, the database with postgres.
	OpenSharedFiles(ctx context.Context) (SharedFiles, error)
	// Migrate creates or upgrades the database schemas; the embedded backend refuses with
	// ErrEmbeddedMigrate.
	Migrate(ctx context.Context) error
	// Shared reports whether several nodes may share the store, so that a node claims a
	// name (claimNode) and secrets live in the store rather than in the data directory.
	Shared() bool
}

// OpenStorage picks the backend [storage] names, with dataDir as the data directory.
func OpenStorage(cfg config.Storage, dataDir string) (Storage, error) {
	switch cfg.Backend {
	case config.BackendEmbedded:
		return embeddedStorage{dir: dataDir}, nil
	case config.BackendPostgres:
		if cfg.DSN == "" {
			return nil, ErrNoDSN
		}
		return postgresStorage{dir: dataDir, dsn: cfg.DSN}, nil
	default:
		return nil, fmt.Errorf("storage backend %q is not %q or %q", cfg.Backend, config.BackendEmbedded, config.BackendPostgres)
	}
}

// embeddedStorage keeps everything in the data directory.
type embeddedStorage struct{ dir string }

func (b embeddedStorage) OpenStore(_ context.Context, o StoreOptions) (mailstore.Backend, error) {
	if err := OpenDataDir(b.dir); err != nil {
		return nil, err
	}
	s, err := mailstore.Open(b.dir, mailstore.Options{OnCommit: o.OnCommit, DefaultQuota: o.DefaultQuota})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b embeddedStorage) OpenKeyring(_ context.Context, mk *keys.MasterKey, opts keys.Options) (*keys.Keyring, error) {
	opts.Backend = nil
	return keys.Open(b.dir, mk, opts)
}

func (b embeddedStorage) OpenSharedFiles(context.Context) (SharedFiles, error) {
	return dirFiles{keys.DirFiles{Dir: b.dir}}, nil
}

func (embeddedStorage) Migrate(context.Context) error { return ErrEmbeddedMigrate }
func (embeddedStorage) Shared() bool                  { return false }

// postgresStorage keeps the stores in one PostgreSQL database that several nodes share.
type postgresStorage struct{ dir, dsn string }

func (b postgresStorage) OpenStore(ctx context.Context, o StoreOptions) (mailstore.Backend, error) {
	s, err := pgstore.Open(ctx, b.dsn, pgstore.Options{OnCommit: o.OnCommit, OnChange: o.OnChange, Node: o.Node,
		DefaultQuota: o.DefaultQuota})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b postgresStorage) OpenKeyring(ctx context.Context, mk *keys.MasterKey, opts keys.Options) (*keys.Keyring, error) {
	kb, err := pgkeys.Open(ctx, b.dsn)
	if err != nil {
		return nil, err
	}
	opts.Backend = kb
	k, err := keys.Open(b.dir, mk, opts)
	if err != nil {
		kb.Close()
		return nil, err
	}
	return k, nil
}

func (b postgresStorage) OpenSharedFiles(ctx context.Context) (SharedFiles, error) {
	return pgkeys.OpenFiles(ctx, b.dsn)
}

func (b postgresStorage) Migrate(ctx context.Context) error {
	if err := pgstore.Migrate(ctx, b.dsn); err != nil {
		return fmt.Errorf("mail store schema: %w", err)
	}
	if err := pgkeys.Migrate(ctx, b.dsn); err != nil {
		return fmt.Errorf("keyring schema: %w", err)
	}
	return nil
}

func (postgresStorage) Shared() bool { return true }

// OpenKeyring opens the keyring [storage] names (Storage.OpenKeyring).
func OpenKeyring(ctx context.Context, cfg config.Storage, dataDir string, mk *keys.MasterKey, opts keys.Options) (*keys.Keyring, error) {
	b, err := OpenStorage(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	return b.OpenKeyring(ctx, mk, opts)
}

// ErrNoDSN: the postgres backend was chosen without [storage] dsn.
var ErrNoDSN = fmt.Errorf("storage.dsn: required when backend is %q", config.BackendPostgres)

// ErrEmbeddedMigrate: `sealgate db migrate` is for the postgres backend; the embedded store
// upgrades its files itself when it opens them.
var ErrEmbeddedMigrate = errors.New(`db migrate is for [storage] backend = "postgres"; the embedded store upgrades itself when it opens`)

// MigrateStorage creates or upgrades the schema of every store kept in the PostgreSQL
// database [storage] names. It refuses with ErrEmbeddedMigrate for the embedded backend.
func MigrateStorage(ctx context.Context, cfg config.Storage) error {
	b, err := OpenStorage(cfg, "")
	if err != nil {
		return err
	}
	return b.Migrate(ctx)
}

// SharedFiles is where the files that every node of one store must see alike are kept: the
// DKIM signing keys, the SRS secret and the self-signed TLS certificate (see keys.Files).
type SharedFiles interface {
	keys.Files
	Close() error
}

// dirFiles is the embedded backend's SharedFiles: the data directory itself.
type dirFiles struct{ keys.DirFiles }

func (dirFiles) Close() error { return nil }

// OpenSharedFiles opens the shared files of the store [storage] names
// (Storage.OpenSharedFiles).
func OpenSharedFiles(ctx context.Context, cfg config.Storage, dataDir string) (SharedFiles, error) {
	b, err := OpenStorage(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	return b.OpenSharedFiles(ctx)
}
