// Package gatewaytest boots a whole Sealgate gateway in-process for tests: every listener on
// 127.0.0.1:0, a fresh data directory, the real store and servers. Tests talk to it through
// real protocol clients.
package gatewaytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Env is a running gateway.
type Env struct {
	T      testing.TB
	GW     *gateway.Gateway
	Dir    string
	Config *config.Config
	Log    *LogBuffer
	// DNS answers the gateway's SPF, DKIM and DMARC look-ups: a real DNS server on loopback
	// that answers SERVFAIL for every name until a test sets records with DNS.Set.
	DNS *dnstest.Server
}

// LogBuffer collects the gateway's log output.
type LogBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// Config returns the test configuration: every listener on 127.0.0.1:0, domains localhost and
// example.test.
func Config() *config.Config {
	c := config.Default()
	c.Hostname = "mx.example.test"
	c.Domains = []string{"localhost", "example.test"}
	c.Listen = config.Listen{
		SMTP:        "127.0.0.1:0",
		Submission:  "127.0.0.1:0",
		Submissions: "127.0.0.1:0",
		POP3:        "127.0.0.1:0",
		POP3S:       "127.0.0.1:0",
		IMAP:        "127.0.0.1:0",
		IMAPS:       "127.0.0.1:0",
		HTTP:        "127.0.0.1:0",
	}
	return c
}

// Start boots a gateway with Config() changed by each mod; it is shut down when the test ends.
func Start(t testing.TB, mods ...func(*config.Config)) *Env {
	t.Helper()
	return StartIn(t, filepath.Join(t.TempDir(), "data"), mods...)
}

// StartIn is Start with the data directory dir (for example on a small file system).
func StartIn(t testing.TB, dir string, mods ...func(*config.Config)) *Env {
	t.Helper()
	return start(t, dir, gateway.Options{}, mods...)
}

// StartWith is Start with gateway options a test sets itself (such as a WKD client); the
// config, data directory, logger and DNS are the harness's.
func StartWith(t testing.TB, opts gateway.Options, mods ...func(*config.Config)) *Env {
	t.Helper()
	return start(t, filepath.Join(t.TempDir(), "data"), opts, mods...)
}

// StartNodes boots n gateways as the nodes of one installation: one fresh, migrated
// PostgreSQL database (see PostgresDSN) and one master key, a data directory each.
func StartNodes(t testing.TB, n int, mods ...func(*config.Config)) []*Env {
	t.Helper()
	return StartNodesWith(t, n, gateway.Options{}, mods...)
}

// StartNodesWith is StartNodes with gateway options every node gets; MasterKeyFile is set
// to the shared key.
func StartNodesWith(t testing.TB, n int, opts gateway.Options, mods ...func(*config.Config)) []*Env {
	t.Helper()
	storage := config.Storage{Backend: config.BackendPostgres, DSN: PostgresDSN(t)}
	if err := gateway.MigrateStorage(context.Background(), storage); err != nil {
		t.Fatal(err)
	}
	opts.MasterKeyFile = filepath.Join(t.TempDir(), "master.key")
	mods = append([]func(*config.Config){func(c *config.Config) { c.Storage = storage }}, mods...)
	nodes := make([]*Env, n)
	for i := range nodes {
		nodes[i] = StartWith(t, opts, mods...)
	}
	return nodes
}

func start(t testing.TB, dir string, extra gateway.Options, mods ...func(*config.Config)) *Env {
	t.Helper()
	cfg := Config()
	for _, m := range mods {
		m(cfg)
	}
	if ps := cfg.Validate(); len(ps) > 0 {
		t.Fatalf("test config invalid: %v", ps)
	}
	logs := &LogBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	dns := dnstest.Start(t, dnstest.Zone{"SERVFAIL": {"*"}})
	opts := extra
	opts.Config, opts.DataDir = cfg, dir
	opts.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// No DNS from tests: mail to a domain without a route stays queued (temporary failure).
	if opts.Resolver == nil {
		opts.Resolver = &deliverytest.Resolver{Temporary: true}
	}
	if opts.DNS == nil {
		opts.DNS = dns.Resolver()
	}
	gw, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Env{T: t, GW: gw, Dir: dir, Config: cfg, Log: logs, DNS: dns}
}

// AddUser creates an account.
func (e *Env) AddUser(addr, password string) mailstore.User {
	e.T.Helper()
	a, err := address.Parse(addr)
	if err != nil {
		e.T.Fatal(err)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		e.T.Fatal(err)
	}
	u, err := e.GW.Store().AddUser(context.Background(), a, hash)
	if err != nil {
		e.T.Fatal(err)
	}
	return u
}

// Stored is a message in a mailbox.
type Stored struct {
	UID  uint32
	Body []byte
}

// Embedded returns the gateway's embedded store, for tests that reach behind the protocols
// with calls outside the gateway's store contract (aliases, the spool, Check). It fails the
// test when the gateway runs on another backend.
func (e *Env) Embedded() *mailstore.Store {
	e.T.Helper()
	s, ok := e.GW.Store().(*mailstore.Store)
	if !ok {
		e.T.Fatalf("the gateway's store is %T, not the embedded store", e.GW.Store())
	}
	return s
}

// Mailbox returns the messages of a user's mailbox, in UID order.
func (e *Env) Mailbox(user, mailbox string) []Stored {
	e.T.Helper()
	return ReadMailbox(e.T, e.GW.Store(), user, mailbox)
}

// MailboxReader is what ReadMailbox needs of a store; every backend implements it.
type MailboxReader interface {
	UserByAddress(ctx context.Context, addr address.Address) (mailstore.User, error)
	MailboxByName(ctx context.Context, userID int64, name string) (mailstore.Mailbox, error)
	Messages(ctx context.Context, mailboxID int64) ([]mailstore.Message, error)
	OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error)
}

// ReadMailbox reads a user's mailbox from any store.
func ReadMailbox(t testing.TB, s MailboxReader, user, mailbox string) []Stored {
	t.Helper()
	ctx := context.Background()
	a, err := address.Parse(user)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByAddress(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.MailboxByName(ctx, u.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Stored, 0, len(msgs))
	for _, m := range msgs {
		rc, _, err := s.OpenBody(ctx, m.BodyID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Stored{UID: m.UID, Body: b})
	}
	return out
}

// TLSConfig trusts the gateway's self-signed certificate for the name "localhost".
func (e *Env) TLSConfig() *tls.Config {
	e.T.Helper()
	files, err := gateway.OpenSharedFiles(context.Background(), e.Config.Storage, e.Dir)
	if err != nil {
		e.T.Fatal(err)
	}
	defer files.Close()
	pemData, err := files.ReadFile(context.Background(), gateway.SelfSignedCertFile)
	if err != nil {
		e.T.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		e.T.Fatal("self-signed certificate does not parse")
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// String shows a stored message in test failures.
func (s Stored) String() string { return fmt.Sprintf("UID %d: %q", s.UID, s.Body) }

// PostgresDSN returns the DSN of a fresh, empty PostgreSQL database for t, dropped when t
// ends (see gateway/internal/pgtest: skipped, or failed under SEALGATE_REQUIRE_PEERS, when
// SEALGATE_TEST_PG_DSN is unset). It is for tests outside gateway/, which cannot import
// pgtest.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
}

// Address parses s, an address a test writes, and fails t if it is none.
func Address(t testing.TB, s string) address.Address {
	t.Helper()
	a, err := address.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Deliver sends msg, as it is (lines ending in CRLF), from sender@example.org to rcpt through
// the MX listener, the way a remote server would, and fails t unless the gateway accepts it.
func (e *Env) Deliver(t testing.TB, rcpt, msg string) {
	t.Helper()
	c, err := smtp.Dial(e.GW.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}
