package gateway

import (
	"context"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/pop3server"
	"github.com/sealgate/sealgate/policy"
)

// buildPOP3 adds the pop3 (STLS) and pop3s (implicit TLS) listeners. They share the per-user
// maildrop lock, which is the store's.
func (g *Gateway) buildPOP3() error {
	cfg := g.cfg
	ls := []mailListener{{"pop3", cfg.Listen.POP3, false}, {"pop3s", cfg.Listen.POP3S, true}}
	return g.addServers(ls, func(l mailListener) (protocolServer, error) {
		return pop3server.New(pop3server.Options{
			Name:                    l.name,
			Hostname:                cfg.Hostname,
			TLSConfig:               g.tlsConf,
			ImplicitTLS:             l.implicitTLS,
			Auth:                    g.authn,
			Store:                   g.store,
			ModeFor:                 g.pop3Mode,
			PlaintextAuthOnLoopback: cfg.Auth.PlaintextOnLoopback,
			IdleTimeout:             cfg.Limits.POP3IdleTimeout.D(),
			ConnLimiter:             g.limiter,
			ListenerMetrics:         g.lnMetrics,
			Logger:                  g.log,
		})
	})
}

// pop3Mode reads the user's effective pop3.mode policy; the CLI's `policy set` applies at the
// next login.
func (g *Gateway) pop3Mode(ctx context.Context, u mailstore.User) (pop3server.Mode, error) {
	settings, err := g.store.PolicySettings(ctx)
	if err != nil {
		return "", err
	}
	scope, err := policy.ParseScope(u.Address)
	if err != nil {
		return "", err
	}
	return pop3server.Mode(policy.Settings(settings).Get(scope, "pop3.mode").Value), nil
}
