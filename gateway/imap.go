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
	ls := []mailListener{{"imap", cfg.Listen.IMAP, false}, {"imaps", cfg.Listen.IMAPS, true}}
	return g.addServers(ls, func(l mailListener) (protocolServer, error) {
		return imapserver.New(imapserver.Options{
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
	})
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
