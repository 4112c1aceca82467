package cli

import (
	"context"
	"fmt"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
)

// adminStore is what the administrative commands need of the mail store: the contract's
// Admin role, which each [storage] backend implements.
type adminStore = mailstore.Admin

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
