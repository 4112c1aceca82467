package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/imapserver"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/gateway/pop3server"
	"github.com/sealgate/sealgate/gateway/queue"
	"github.com/sealgate/sealgate/gateway/smtpserver"
	"github.com/sealgate/sealgate/gateway/tlsrpt"
	"github.com/sealgate/sealgate/gateway/webmail"
	"github.com/sealgate/sealgate/keys"
	"github.com/sealgate/sealgate/keys/pgkeys"
)

// store is what the gateway's parts need of the mail store: the union of their consumer
// interfaces, and the few calls the gateway makes itself (the first postmaster account, the
// health check, --demo's accounts and policy). Each [storage] backend implements it.
type store interface {
	auth.Accounts
	addressing.Store
	smtpserver.Accounts
	smtpserver.Quotas
	pipeline.Deliverer
	pipeline.PolicySource
	imapserver.Store
	mailindex.Store
	pop3server.Store
	webmail.Store
	queue.Store
	tlsrpt.Store

	AddUser(ctx context.Context, addr address.Address, passwordHash string) (mailstore.User, error)
	SetPasswordHash(ctx context.Context, addr address.Address, hash string) error
	Users(ctx context.Context) ([]mailstore.User, error)
	SetPolicy(ctx context.Context, scope string, kv map[string]string) error
	Close() error
}

var (
	_ store             = (*mailstore.Store)(nil)
	_ store             = (*pgstore.Store)(nil)
	_ auth.FailureStore = (*pgstore.Store)(nil) // failed logins counted across nodes
)

// storeHooks are what the gateway's parts want to hear from the store.
type storeHooks struct {
	// onCommit is told of every committed delivery (IMAP IDLE, the queue runner); with
	// postgres, of other nodes' deliveries too.
	onCommit func(mailstore.Delivered)
	// onChange is told of a user whose mailboxes another node changed (IMAP IDLE). The
	// embedded store has one process serving IMAP, which notifies its sessions itself.
	onChange func(userID int64)
	// node names this node in a shared database (claimNode); "" is a random name.
	node string
	// defaultQuota is [limits] mailbox_quota, the storage limit the store enforces for
	// accounts without one of their own.
	defaultQuota int64
}

// openStore opens the mail store [storage] names. A PostgreSQL database whose schema is
// missing, older or newer than this Sealgate's is refused (`sealgate db migrate`).
func openStore(ctx context.Context, cfg config.Storage, dataDir string, h storeHooks) (store, error) {
	switch cfg.Backend {
	case config.BackendEmbedded:
		s, err := mailstore.Open(dataDir, mailstore.Options{OnCommit: h.onCommit, DefaultQuota: h.defaultQuota})
		if err != nil {
			return nil, err
		}
		return s, nil
	case config.BackendPostgres:
		if cfg.DSN == "" {
			return nil, ErrNoDSN
		}
		s, err := pgstore.Open(ctx, cfg.DSN, pgstore.Options{OnCommit: h.onCommit, OnChange: h.onChange, Node: h.node,
			DefaultQuota: h.defaultQuota})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("storage backend %q is not %q or %q", cfg.Backend, config.BackendEmbedded, config.BackendPostgres)
	}
}

// OpenKeyring opens the keyring [storage] names: DIR/keys.db with the embedded backend, the
// database's keyring tables with postgres (their schema must be current: `sealgate db
// migrate`). opts.Backend is set here.
func OpenKeyring(ctx context.Context, cfg config.Storage, dataDir string, mk *keys.MasterKey, opts keys.Options) (*keys.Keyring, error) {
	switch cfg.Backend {
	case config.BackendEmbedded:
		opts.Backend = nil
		return keys.Open(dataDir, mk, opts)
	case config.BackendPostgres:
		if cfg.DSN == "" {
			return nil, ErrNoDSN
		}
		b, err := pgkeys.Open(ctx, cfg.DSN)
		if err != nil {
			return nil, err
		}
		opts.Backend = b
		k, err := keys.Open(dataDir, mk, opts)
		if err != nil {
			b.Close()
			return nil, err
		}
		return k, nil
	default:
		return nil, fmt.Errorf("storage backend %q is not %q or %q", cfg.Backend, config.BackendEmbedded, config.BackendPostgres)
	}
}

// ErrNoDSN: the postgres backend was chosen without [storage] dsn.
var ErrNoDSN = fmt.Errorf("storage.dsn: required when backend is %q", config.BackendPostgres)

// ErrEmbeddedMigrate: `sealgate db migrate` is for the postgres backend; the embedded store
// upgrades its files itself when it opens them.
var ErrEmbeddedMigrate = errors.New(`db migrate is for [storage] backend = "postgres"; the embedded store upgrades itself when it opens`)

// MigrateStorage creates or upgrades the schema of every store kept in the PostgreSQL
// database [storage] names. It refuses with ErrEmbeddedMigrate for the embedded backend.
func MigrateStorage(ctx context.Context, cfg config.Storage) error {
	switch cfg.Backend {
	case config.BackendEmbedded:
		return ErrEmbeddedMigrate
	case config.BackendPostgres:
		if cfg.DSN == "" {
			return ErrNoDSN
		}
		if err := pgstore.Migrate(ctx, cfg.DSN); err != nil {
			return fmt.Errorf("mail store schema: %w", err)
		}
		if err := pgkeys.Migrate(ctx, cfg.DSN); err != nil {
			return fmt.Errorf("keyring schema: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("storage backend %q is not %q or %q", cfg.Backend, config.BackendEmbedded, config.BackendPostgres)
	}
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

// OpenSharedFiles opens the shared files of the store [storage] names: the data directory
// with the embedded backend, the database (whose keyring schema must be current) with
// postgres.
func OpenSharedFiles(ctx context.Context, cfg config.Storage, dataDir string) (SharedFiles, error) {
	switch cfg.Backend {
	case config.BackendEmbedded:
		return dirFiles{keys.DirFiles{Dir: dataDir}}, nil
	case config.BackendPostgres:
		if cfg.DSN == "" {
			return nil, ErrNoDSN
		}
		return pgkeys.OpenFiles(ctx, cfg.DSN)
	default:
		return nil, fmt.Errorf("storage backend %q is not %q or %q", cfg.Backend, config.BackendEmbedded, config.BackendPostgres)
	}
}
