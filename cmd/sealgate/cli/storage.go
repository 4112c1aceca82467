package cli

import (
	"context"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
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
	st, err := gateway.OpenStorage(cfg.Storage, g.dataDir)
	if err != nil {
		return nil, nil, err
	}
	s, err := st.OpenStore(context.Background(), gateway.StoreOptions{DefaultQuota: int64(cfg.Limits.MailboxQuota)})
	if err != nil {
		return nil, nil, err
	}
	return cfg, s, nil
}
