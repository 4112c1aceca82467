package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/queue"
)

// accountStore is what `sealgate user` needs.
type accountStore interface {
	AddUser(ctx context.Context, addr address.Address, passwordHash string) (mailstore.User, error)
	SetPasswordHash(ctx context.Context, addr address.Address, hash string) error
	DeleteUser(ctx context.Context, addr address.Address) error
	Users(ctx context.Context) ([]mailstore.User, error)
	// `sealgate user quota`
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
	SetQuota(ctx context.Context, addr address.Address, limit int64) error
}

// aliasStore is what `sealgate alias` needs.
type aliasStore interface {
	addressing.Store // to check that targets take mail
	SetAlias(ctx context.Context, key string, a mailstore.Alias, check func(all map[string]mailstore.Alias) error) error
	DeleteAlias(ctx context.Context, key string) error
	Aliases(ctx context.Context) (map[string]mailstore.Alias, error)
}

// policyStore is what `sealgate policy` needs.
type policyStore interface {
	SetPolicy(ctx context.Context, scope string, kv map[string]string) error
	PolicySettings(ctx context.Context) (map[string]map[string]string, error)
}

// spoolStore is what `sealgate queue` needs.
type spoolStore interface {
	queue.BounceStore // `queue delete --bounce`
	QueueEntries(ctx context.Context) ([]mailstore.QueueEntry, error)
	QueueSetHeld(ctx context.Context, id int64, held bool) error
	QueueRetry(ctx context.Context, id int64, now time.Time) error
	QueueFlush(ctx context.Context, now time.Time) (int, error)
	QueueRecord(ctx context.Context, id int64, outcomes []mailstore.QueueRecipient) error
	QueueDelete(ctx context.Context, id int64) error
}

// adminStore is what the administrative commands need of the mail store; each [storage]
// backend implements it.
type adminStore interface {
	accountStore
	aliasStore
	policyStore
	spoolStore
	// Check reports inconsistencies (`sealgate check`).
	Check(ctx context.Context) ([]string, error)
	Close() error
}

var (
	_ adminStore = (*mailstore.Store)(nil)
	_ adminStore = (*pgstore.Store)(nil)
)

// openStore opens the mail store that [storage] names, as the server does, for an
// administrative command.
func (g *globals) openStore() (*config.Config, adminStore, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	switch cfg.Storage.Backend {
	case config.BackendEmbedded:
		if err := gateway.OpenDataDir(g.dataDir); err != nil {
			return nil, nil, err
		}
		s, err := mailstore.Open(g.dataDir, mailstore.Options{DefaultQuota: int64(cfg.Limits.MailboxQuota)})
		if err != nil {
			return nil, nil, err
		}
		return cfg, s, nil
	case config.BackendPostgres:
		if cfg.Storage.DSN == "" {
			return nil, nil, gateway.ErrNoDSN
		}
		s, err := pgstore.Open(context.Background(), cfg.Storage.DSN, pgstore.Options{DefaultQuota: int64(cfg.Limits.MailboxQuota)})
		if err != nil {
			return nil, nil, err
		}
		return cfg, s, nil
	default:
		return nil, nil, fmt.Errorf("storage backend %q is not available in this build", cfg.Storage.Backend)
	}
}
