// Package gateway is Sealgate's composition root: it builds every part from the config and
// runs them. Parts are wired here explicitly, in Go; nothing registers itself.
//
// A Gateway owns its data directory (created 0700): the store, the master key (unless the
// config names another file), the self-signed TLS certificate when none is configured, and the
// spool directory for large messages in flight. With [storage] backend = "postgres" the store,
// the keyring and the files every node must share (SharedFiles: DKIM keys, SRS secret,
// self-signed certificate) are in the database, and the data directory keeps the node's own:
// its name (DIR/node-name, locked while it runs) and the spool. Start binds every configured listener before
// serving any, so a port conflict fails the start as a whole; Shutdown stops accepting, lets
// sessions finish until its context ends, and closes the store last.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/certs"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/connlimit"
	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/httpfront"
	"github.com/sealgate/sealgate/gateway/imapserver"
	"github.com/sealgate/sealgate/gateway/listener"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/gateway/queue"
	"github.com/sealgate/sealgate/gateway/smtpserver"
	"github.com/sealgate/sealgate/gateway/webmail"
	"github.com/sealgate/sealgate/keys"
)

// Options configure New.
type Options struct {
	Config  *config.Config
	DataDir string
	// MasterKeyFile overrides the config's master key file (SEALGATE_MASTER_KEY_FILE).
	MasterKeyFile string
	Logger        *slog.Logger // nil: slog.Default()
	// Resolver answers the DNS lookups of outbound delivery; nil is the system resolver.
	Resolver delivery.Resolver
	// DNS answers the lookups of SPF, DKIM and DMARC; nil is Resolver when it can, else the
	// system resolver.
	DNS mailauth.Resolver
	// WKD replaces the Web Key Directory client used when [keys] wkd_lookup is on (tests).
	WKD *keys.WKDClient
	// Now is the queue's clock; nil is time.Now.
	Now func() time.Time
	// IMAPPollInterval is how often idling IMAP sessions check the store for changes nobody
	// notified them of; 0 is the IMAP server's default. Tests set it long to see that
	// notifications alone (the store's change feed) reach them.
	IMAPPollInterval time.Duration
	// LoginThrottle tunes the throttling of failed logins (tests shorten its delays); its
	// Store is the gateway's: the database with postgres, memory with the embedded store.
	LoginThrottle auth.ThrottleOptions
	// CertNow is the clock that decides when an ACME certificate is renewed; nil is time.Now.
	CertNow func() time.Time
	// CertPollInterval is how often certificate files are checked for changes and ACME
	// certificates for renewal; 0 is one minute.
	CertPollInterval time.Duration
	// MXPort is the SMTP port of MX hosts in outbound delivery; 0 is 25. Tests point it at
	// peers on loopback.
	MXPort int
}

// Gateway is a running Sealgate.
type Gateway struct {
	cfg      *config.Config
	dataDir  string
	log      *slog.Logger
	storage  Storage // the [storage] backend, picked once
	store    store
	keyring  *keys.Keyring
	master   *keys.MasterKey
	files    SharedFiles       // DKIM keys, SRS secret, self-signed certificate
	nodeLock *os.File          // DIR/node-name, locked while this node runs (postgres only)
	dns      mailauth.Resolver // SPF, DKIM and DMARC lookups, through a short-lived mailauth.Cache
	tlsConf  *tls.Config
	certs    *certs.Manager // the certificate behind tlsConf, reloaded and renewed live
	registry *prometheus.Registry
	spoolDir string
	authn    *auth.Authenticator // shared by every protocol, so throttling is too
	limiter  *connlimit.Limiter  // connections per client address, across listeners

	lnMetrics *listener.Metrics // panics, refusals and accept errors of every listener

	resolver  delivery.Resolver
	now       func() time.Time
	mxPort    int // Options.MXPort
	imapPoll  time.Duration
	queueWake chan struct{} // a commit that spooled mail wakes the queue runner
	workers   workerSet     // parts without listeners, run from Start to Shutdown

	servers []*listenerServer
	site    *httpfront.Site    // MTA-STS, autoconfig, autodiscover; its settings change on reload
	proxies *httpfront.Proxies // trusted reverse proxies; they change on reload
	reload  reloadState

	imapNotify *imapserver.Notifier // wakes IDLE sessions when mail is delivered
	index      *mailindex.Indexer   // the search index of IMAP and web mail, run once
	pipe       *pipeline.Pipeline   // shared by SMTP submission and web mail compose
	directory  *addressing.Directory
	wkd        pipeline.WKDLookup // nil unless [keys] wkd_lookup

	mu    sync.Mutex
	addrs map[string]string
	errc  chan error
	wg    sync.WaitGroup
}

// listenerServer is one configured listener and the server behind it. Each part adds its
// listeners in its build step (buildSMTP, buildHTTP, ...).
type listenerServer struct {
	name     string
	addr     string
	ln       net.Listener
	serve    func(net.Listener) error        // returns when shut down
	shutdown func(ctx context.Context) error // stops accepting, ends sessions by ctx's end
}

// mailListener is one listener of a mail protocol in the config: its name, its address (""
// when it is off), and whether TLS starts at once (imaps, pop3s, submissions) rather than
// after STARTTLS.
type mailListener struct {
	name, addr  string
	implicitTLS bool
}

// protocolServer is what the SMTP, IMAP and POP3 servers have in common for the gateway.
type protocolServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// addServers makes a server with newServer for each of ls that has an address, and adds it
// to the listeners the gateway runs.
func (g *Gateway) addServers(ls []mailListener, newServer func(mailListener) (protocolServer, error)) error {
	for _, l := range ls {
		if l.addr == "" {
			continue
		}
		srv, err := newServer(l)
		if err != nil {
			return err
		}
		g.servers = append(g.servers, &listenerServer{name: l.name, addr: l.addr, serve: srv.Serve, shutdown: srv.Shutdown})
	}
	return nil
}

// OpenDataDir creates dir with mode 0700 if needed and refuses one others can read.
func OpenDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s is open to other users and cannot be made 0700: %w", dir, err)
		}
	}
	return nil
}

// New opens the store and builds every server. Nothing listens until Start.
func New(opts Options) (*Gateway, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = config.Default()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := OpenDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	mkPath := opts.MasterKeyFile
	if mkPath == "" {
		mkPath = cfg.Keys.MasterKeyPath(opts.DataDir)
	}
	mk, err := keys.LoadOrCreateMasterKey(mkPath)
	if err != nil {
		return nil, err
	}
	spoolDir := filepath.Join(opts.DataDir, "spool")
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		return nil, err
	}
	storage, err := OpenStorage(cfg.Storage, opts.DataDir)
	if err != nil {
		return nil, err
	}
	var node string
	var nodeLock *os.File
	if storage.Shared() {
		if node, nodeLock, err = claimNode(opts.DataDir); err != nil {
			return nil, err
		}
	}
	imapNotify := imapserver.NewNotifier()
	queueWake := make(chan struct{}, 1)
	// The indexer needs the store; deliveries committed before it exists are caught up when
	// it starts.
	var index atomic.Pointer[mailindex.Indexer]
	store, err := storage.OpenStore(context.Background(), StoreOptions{
		OnCommit: func(d mailstore.Delivered) {
			imapNotify.Delivered(d)
			if ix := index.Load(); ix != nil {
				ix.Delivered(d)
			}
			wakeQueue(queueWake, d)
		},
		OnChange:     imapNotify.Changed,
		Node:         node,
		DefaultQuota: int64(cfg.Limits.MailboxQuota),
	})
	if err != nil {
		closeNode(nodeLock)
		return nil, err
	}
	keyring, err := storage.OpenKeyring(context.Background(), mk, keys.Options{Subaddressing: cfg.Subaddressing()})
	if err != nil {
		store.Close()
		closeNode(nodeLock)
		return nil, err
	}
	files, err := storage.OpenSharedFiles(context.Background())
	if err != nil {
		store.Close()
		keyring.Close()
		closeNode(nodeLock)
		return nil, err
	}
	certMgr, err := newCerts(context.Background(), cfg, certs.Options{
		Files: files, MasterKey: mk, Logger: logger, Now: opts.CertNow, PollInterval: opts.CertPollInterval,
	})
	if err != nil {
		store.Close()
		keyring.Close()
		files.Close()
		closeNode(nodeLock)
		return nil, fmt.Errorf("tls: %w", err)
	}
	system := net.DefaultResolver
	if addr := cfg.DNS.Resolver; addr != "" {
		system = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	}
	resolver := opts.Resolver
	if resolver == nil {
		resolver = system
	}
	dns := opts.DNS
	if dns == nil {
		if r, ok := opts.Resolver.(mailauth.Resolver); ok {
			dns = r
		} else {
			dns = system
		}
	}
	g := &Gateway{
		cfg: cfg, dataDir: opts.DataDir, log: logger, storage: storage, store: store, keyring: keyring, master: mk, files: files, nodeLock: nodeLock,
		dns:      mailauth.NewCache(dns, opts.Now),
		tlsConf:  certMgr.TLSConfig(),
		certs:    certMgr,
		registry: prometheus.NewRegistry(),
		addrs:    map[string]string{},
		errc:     make(chan error, 16),
		resolver: resolver, now: opts.Now, mxPort: opts.MXPort, queueWake: queueWake, imapPoll: opts.IMAPPollInterval,
	}
	if cfg.Keys.WKDLookup {
		if opts.WKD != nil {
			g.wkd = opts.WKD
		} else {
			g.wkd = &keys.WKDClient{}
		}
	}
	g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g.spoolDir = spoolDir
	g.imapNotify = imapNotify
	g.index = mailindex.New(store, mailindex.Options{Envelope: imapserver.EncodeEnvelope, Logger: logger})
	index.Store(g.index)
	throttle := opts.LoginThrottle
	if fs, ok := store.(auth.FailureStore); ok {
		throttle.Store = fs // postgres: every node counts together
	}
	g.authn = auth.New(auth.Options{Accounts: store, Throttle: auth.NewThrottle(throttle)})
	g.limiter = connlimit.New(cfg.Limits.MaxConnectionsPerIP)
	g.lnMetrics = listener.NewMetrics(g.registry)
	if cfg.TLS.Cert != "" || cfg.TLS.ACMEDirectory != "" {
		g.workers.list = append(g.workers.list, worker{name: "certificates", run: certMgr.Run})
	}
	for _, build := range []func() error{g.buildIndex, g.buildSMTP, g.buildPOP3, g.buildIMAP, g.buildHTTP, g.buildQueue} {
		if err := build(); err != nil {
			store.Close()
			keyring.Close()
			files.Close()
			closeNode(nodeLock)
			return nil, err
		}
	}
	return g, nil
}

// ensurePostmaster creates postmaster@ the first local domain when there is no account at
// all, so that postmaster@ and abuse@ take mail from the first start (RFC 5321 §4.5.1). Its
// password is random: set one with `sealgate user passwd`. Nodes sharing a database and
// starting at once all try; the account's unique address lets one of them make it.
func (g *Gateway) ensurePostmaster(ctx context.Context) error {
	if _, err := g.store.FirstUser(ctx); !errors.Is(err, mailstore.ErrNotFound) {
		return err
	}
	var pw [24]byte
	rand.Read(pw[:])
	hash, err := auth.HashPassword(hex.EncodeToString(pw[:]))
	if err != nil {
		return err
	}
	a := address.Address{Local: "postmaster", Domain: g.cfg.Domains[0]}
	_, err = g.store.AddUser(ctx, a, hash)
	if errors.Is(err, mailstore.ErrExists) {
		return nil // another node starting at the same moment made it
	}
	if err != nil {
		return err
	}
	g.log.Info("created the postmaster account; set its password with `sealgate user passwd`", "account", a.String())
	return nil
}

func (g *Gateway) buildSMTP() error {
	cfg := g.cfg
	if err := g.ensurePostmaster(context.Background()); err != nil {
		return err
	}
	srs, err := g.loadSRS(context.Background())
	if err != nil {
		return err
	}
	dir := addressing.New(addressing.Options{
		Store: g.store, IsLocalDomain: cfg.IsLocalDomain, SRS: srs,
		Subaddressing: cfg.Subaddressing(), Postmaster: cfg.Addressing.Postmaster,
	})
	g.directory = dir
	pipe := pipeline.New(pipeline.Options{
		Hostname: cfg.Hostname, Store: g.store, Logger: g.log, Now: g.now,
		Policy: g.store, Keys: g.keyring,
		Auth: &mailauth.Checker{Resolver: g.dns, Receiver: cfg.Hostname, Senders: mailauth.SenderPolicy{
			Ours: cfg.IsOurDomain, DMARCExempt: cfg.MailAuth.DMARCExempt,
		}},
		DKIM: &mailauth.DKIMKeys{Files: g.files, MasterKey: g.master},
		WKD:  g.wkd, SpillDir: g.spoolDir,
		Subaddressing:  dir.Rule(),
		MaxMessageSize: int64(cfg.Limits.MaxMessageSize),
		Bouncer: refusalNotices{&queue.Bouncer{Store: g.store, Hostname: cfg.Hostname, IsLocalDomain: cfg.IsLocalDomain,
			Subaddressing: cfg.Subaddressing(), Now: g.now, Warn: g.log.Warn}},
	})
	g.pipe = pipe
	relay, err := g.relayOptions()
	if err != nil {
		return err
	}
	metrics := smtpserver.NewMetrics(g.registry)
	ls := []mailListener{
		{"smtp", cfg.Listen.SMTP, false},
		{"submission", cfg.Listen.Submission, false},
		{"submissions", cfg.Listen.Submissions, true},
	}
	return g.addServers(ls, func(l mailListener) (protocolServer, error) {
		role := pipeline.RoleSubmission
		if l.name == "smtp" {
			role = pipeline.RoleMX
		}
		return smtpserver.New(smtpserver.Options{
			Name:                    l.name,
			Hostname:                cfg.Hostname,
			Role:                    role,
			TLSConfig:               g.tlsConf,
			ImplicitTLS:             l.implicitTLS,
			IsLocalDomain:           cfg.IsLocalDomain,
			Accounts:                g.store,
			Quotas:                  g.store,
			Directory:               dir,
			Relay:                   relay,
			Auth:                    g.authn,
			Pipeline:                pipe,
			PlaintextAuthOnLoopback: cfg.Auth.PlaintextOnLoopback,
			MaxMessageSize:          int64(cfg.Limits.MaxMessageSize),
			MaxRecipients:           cfg.Limits.MaxRecipients,
			MaxUnknownRecipients:    cfg.Limits.MaxUnknownRecipients,
			MaxLineLength:           cfg.Limits.MaxLineLength,
			IdleTimeout:             cfg.Limits.SMTPIdleTimeout.D(),
			ConnLimiter:             g.limiter,
			ListenerMetrics:         g.lnMetrics,
			SpoolDir:                g.spoolDir,
			Logger:                  g.log,
			Metrics:                 metrics,
		})
	})
}

func (g *Gateway) buildHTTP() error {
	if g.cfg.Listen.HTTP == "" && g.cfg.Listen.HTTPS == "" && g.cfg.Listen.Metrics == "" {
		return nil
	}
	mux, ops := http.NewServeMux(), http.NewServeMux() // ops: /healthz and /metrics
	ops.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if _, err := g.store.Users(ctx); err != nil {
			g.log.Error("health check failed", "err", err)
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	ops.Handle("GET /metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /.well-known/openpgpkey/", keys.NewWKD(g.keyring, g.cfg.IsOurDomain))
	wm, err := webmail.New(webmail.Options{
		Store: g.store, Index: g.index, Auth: g.authn, Keys: g.keyring, Pipeline: g.pipe, IsLocalDomain: g.cfg.IsLocalDomain, IsRelayDomain: g.cfg.IsRelayDomain,
		Directory: g.directory,
		Hostname:  g.cfg.Hostname, Logger: g.log, MaxMessageSize: int64(g.cfg.Limits.MaxMessageSize), SpoolDir: g.spoolDir,
		OnChange: g.imapNotify.Changed, PlaintextAuthOnLoopback: g.cfg.Auth.PlaintextOnLoopback,
		MobileConfig: func(addr string) []byte { return g.site.MobileConfig(addr) },
	})
	if err != nil {
		return err
	}
	mux.Handle(webmail.Prefix, wm)
	mux.Handle("GET /{$}", http.RedirectHandler(webmail.Prefix, http.StatusSeeOther))
	g.addWebListeners(mux, ops)
	return nil
}

// refuseHTTP answers a connection over the per-address limit.
func refuseHTTP(c net.Conn) {
	const body = "Too many connections from your address\n"
	fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// Start binds every listener, then serves them in the background.
func (g *Gateway) Start() error {
	for _, s := range g.servers {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			for _, o := range g.servers {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return fmt.Errorf("listen %s on %s: %w", s.name, s.addr, err)
		}
		s.ln = ln
		g.mu.Lock()
		g.addrs[s.name] = ln.Addr().String()
		g.mu.Unlock()
	}
	if g.site != nil {
		g.site.Set(g.siteSettings(g.cfg))
	}
	for _, s := range g.servers {
		g.log.Info("listening", "listener", s.name, "addr", s.ln.Addr().String())
		g.wg.Add(1)
		go func(s *listenerServer) {
			defer g.wg.Done()
			err := s.serve(s.ln)
			if err != nil && !errors.Is(err, listener.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				g.errc <- fmt.Errorf("%s: %w", s.name, err)
			}
		}(s)
	}
	g.workers.start(g)
	return nil
}

// Addr returns the bound address of a listener ("smtp", "submission", "submissions",
// "http", "https", "metrics"), or "" when it is not listening.
func (g *Gateway) Addr(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addrs[name]
}

// Store is the gateway's mail store, whichever backend [storage] selects.
func (g *Gateway) Store() store { return g.store }

// Keyring is the gateway's keyring.
func (g *Gateway) Keyring() *keys.Keyring { return g.keyring }

// Index is the gateway's search indexer.
func (g *Gateway) Index() *mailindex.Indexer { return g.index }

// Errors delivers a server's failure while running.
func (g *Gateway) Errors() <-chan error { return g.errc }

// Shutdown stops every server, waiting for open sessions until ctx ends, then closes the store.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range g.servers {
		if s.ln == nil {
			continue
		}
		wg.Add(1)
		go func(s *listenerServer) {
			defer wg.Done()
			err := s.shutdown(ctx)
			if err != nil && !errors.Is(err, listener.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
				mu.Unlock()
			}
		}(s)
	}
	wg.Wait()
	g.wg.Wait()
	g.workers.stop() // after the listeners (no new mail), before the store closes
	errs = append(errs, g.keyring.Close(), g.store.Close(), g.files.Close())
	closeNode(g.nodeLock)
	return errors.Join(errs...)
}
