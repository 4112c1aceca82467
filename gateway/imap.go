package gateway

import (
	"context"

	"github.com/sealgate/sealgate/gateway/imapserver"
)

// buildIMAP adds the "imap" (STARTTLS) and "imaps" (implicit TLS) listeners. Both share the
// gateway's Authenticator (so login throttling is shared with SMTP), connection limiter and
// the notifier fed by the store's commit hook, so IDLE sees mail delivered over SMTP at once.
func (g *Gateway) buildIMAP() error {
	cfg := g.cfg
	for _, l := range []struct {
		name, addr  string
		implicitTLS bool
	}{
		{"imap", cfg.Listen.IMAP, false},
		{"imaps", cfg.Listen.IMAPS, true},
	} {
		if l.addr == "" {
			continue
		}
		srv, err := imapserver.New(imapserver.Options{
			Name:                    l.name,
			TLSConfig:               g.tlsConf,
			ImplicitTLS:             l.implicitTLS,
			Store:                   g.store,
			Index:                   g.index,
			SpoolDir:                g.spoolDir,
			Auth:                    g.authn,
			PlaintextAuthOnLoopback: cfg.Auth.PlaintextOnLoopback,
			MaxMessageSize:          int64(cfg.Limits.MaxMessageSize),
			IdleTimeout:             cfg.Limits.IMAPIdleTimeout.D(),
			ConnLimiter:             g.limiter,
			ListenerMetrics:         g.lnMetrics,
			Notifier:                g.imapNotify,
			PollInterval:            g.imapPoll,
			Logger:                  g.log,
		})
		if err != nil {
			return err
		}
		g.servers = append(g.servers, &listenerServer{name: l.name, addr: l.addr, serve: srv.Serve, shutdown: srv.Shutdown})
	}
	return nil
}

// buildIndex runs the search indexer, one for IMAP and web mail, when either is enabled.
func (g *Gateway) buildIndex() error {
	l := g.cfg.Listen
	if l.IMAP == "" && l.IMAPS == "" && l.HTTP == "" {
		return nil
	}
	g.workers.list = append(g.workers.list, worker{name: "mailindex", run: func(ctx context.Context) {
		if err := g.index.Run(ctx); err != nil {
			g.log.Error("search index", "err", err)
		}
	}})
	return nil
}
