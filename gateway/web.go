package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sealgate/sealgate/gateway/certs"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/httpfront"
	"github.com/sealgate/sealgate/gateway/listener"
	"github.com/sealgate/sealgate/gateway/mtasts"
)

// addWebListeners adds the http, https and metrics listeners. app serves web mail and WKD; ops
// serves /healthz and /metrics, on the metrics listener when there is one and beside app
// otherwise. In front of both: the trusted-proxy filter, then the MTA-STS policy, autoconfig
// and autodiscover. With https set, http redirects there except for ACME HTTP-01 challenges,
// /healthz and /metrics.
func (g *Gateway) addWebListeners(app *http.ServeMux, ops *http.ServeMux) {
	cfg := g.cfg
	if cfg.Listen.Metrics == "" {
		app.Handle("/healthz", ops)
		app.Handle("/metrics", ops)
	} else {
		g.addHTTPServer("metrics", cfg.Listen.Metrics, ops, false)
	}
	g.site = httpfront.NewSite(app, g.siteSettings(cfg))
	g.proxies = httpfront.NewProxies(g.site, cfg.HTTP.TrustedProxyPrefixes())
	front := g.proxies
	if cfg.Listen.HTTPS != "" {
		g.addHTTPServer("https", cfg.Listen.HTTPS, front, true)
	}
	if cfg.Listen.HTTP != "" {
		plain := http.Handler(front)
		if cfg.Listen.HTTPS != "" {
			plain = httpfront.Redirect(front, httpfront.RedirectOptions{
				HTTPSPort: func() int { return g.port("https") },
				Keep:      []string{certs.HTTP01Prefix, "/healthz", "/metrics"},
			})
		}
		g.addHTTPServer("http", cfg.Listen.HTTP, g.certs.HTTPHandler(plain), false)
	}
}

// addHTTPServer serves h on addr through the listener layer: the per-address connection cap
// of the mail listeners (a client over it gets 429), read timeouts on headers and bodies
// ([limits] http_read_timeout) and a header size bound.
func (g *Gateway) addHTTPServer(name, addr string, h http.Handler, useTLS bool) {
	// The server's own complaints (mostly failed TLS handshakes of scanners) at debug level.
	errLog := slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)
	read := g.cfg.Limits.HTTPReadTimeout.D()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: min(10*time.Second, read), ReadTimeout: read,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: errLog}
	ln := listener.New(listener.Options{Name: name, Limiter: g.limiter, Logger: g.log, Metrics: g.lnMetrics, Refuse: refuseHTTP})
	serve := func(l net.Listener) error { return srv.Serve(ln.Wrap(l)) }
	if useTLS {
		srv.TLSConfig = g.tlsConf
		serve = func(l net.Listener) error { return srv.ServeTLS(ln.Wrap(l), "", "") }
	}
	g.servers = append(g.servers, &listenerServer{name: name, addr: addr, serve: serve,
		shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			ln.Shutdown(ctx) // net/http has closed its connections; this stops the accept retries
			return err
		}})
}

// port returns the bound port of a listener, 0 when it is not listening.
func (g *Gateway) port(name string) int {
	_, p, err := net.SplitHostPort(g.Addr(name))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// MTASTSPolicy is the MTA-STS policy the https listener serves on mta-sts.DOMAIN for every
// local domain ([mtasts]); publish its TextID as "_mta-sts.DOMAIN" TXT "v=STSv1; id=…".
func MTASTSPolicy(cfg *config.Config) *mtasts.Policy {
	return &mtasts.Policy{Mode: cfg.MTASTS.Mode, MX: cfg.MTASTSMX(), MaxAge: cfg.MTASTS.MaxAge.D()}
}

// siteSettings are the MTA-STS and client configuration documents' contents. The ports are
// the bound ones once listening (Start sets them again): a port 0 in the config means any.
func (g *Gateway) siteSettings(cfg *config.Config) httpfront.Settings {
	s := httpfront.Settings{
		Hostname: cfg.Hostname, Domains: cfg.Domains,
		MTASTS: MTASTSPolicy(cfg),
	}
	for _, l := range []struct {
		name, proto, addr string
		implicit          bool
	}{
		{"imaps", "imap", cfg.Listen.IMAPS, true}, {"imap", "imap", cfg.Listen.IMAP, false},
		{"pop3s", "pop3", cfg.Listen.POP3S, true}, {"pop3", "pop3", cfg.Listen.POP3, false},
		{"submissions", "smtp", cfg.Listen.Submissions, true}, {"submission", "smtp", cfg.Listen.Submission, false},
	} {
		if l.addr == "" {
			continue
		}
		port := g.port(l.name)
		if port == 0 {
			_, p, _ := net.SplitHostPort(l.addr)
			port, _ = strconv.Atoi(p)
		}
		s.Servers = append(s.Servers, httpfront.Server{Protocol: l.proto, Port: port, ImplicitTLS: l.implicit})
	}
	return s
}
