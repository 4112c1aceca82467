// Package pop3server is Sealgate's POP3 server (RFC 1939) over the mail store, with CAPA and
// response codes (RFC 2449), STLS (RFC 2595), SASL PLAIN (RFC 5034) and implicit TLS (pop3s).
//
// A session sees a snapshot of the user's INBOX taken at login; mail arriving during the
// session appears in the next one. Only one session per user may be in the TRANSACTION state:
// a second gets "-ERR [IN-USE]". The lock is the store's (Store.LockMaildrop), so it holds
// across listeners, and across nodes when they share a store. Changes are applied only at QUIT, in one store transaction
// (the UPDATE state); a connection that ends without QUIT changes nothing.
//
// Deletion follows the user's pop3.mode policy:
//
//   - client (default): DELE marks a message; QUIT expunges the marked ones, the same deletion
//     IMAP sees.
//   - delete: QUIT expunges every message retrieved with RETR in the session, and the marked
//     ones.
//   - keep: DELE only hides the message from later POP3 sessions; it stays in the mailbox for
//     IMAP and web mail.
//
// In every mode QUIT marks retrieved messages \Seen. UIDL is "UIDVALIDITY.UID" of the INBOX,
// which is stable for a message and never reused.
//
// USER/PASS and AUTH are refused before TLS unless the client is on loopback and
// PlaintextAuthOnLoopback is set. Responses to RETR and TOP are streamed from the store and
// dot-stuffed on the fly; pipelined commands are answered in order, and output is flushed
// when the client has sent nothing more.
package pop3server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/connlimit"
	"github.com/sealgate/sealgate/gateway/listener"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = listener.ErrServerClosed

// Mode is how deletion works for a user; see the package doc.
type Mode string

// Modes.
const (
	ModeClient Mode = "client"
	ModeDelete Mode = "delete"
	ModeKeep   Mode = "keep"
)

// Store is what the server needs of the mail store.
type Store interface {
	mailstore.Maildrops
}

var _ Store = (*mailstore.Store)(nil)

// Options configure a Server. Zero values take the defaults in brackets.
type Options struct {
	Hostname    string
	TLSConfig   *tls.Config // enables STLS, or implicit TLS with ImplicitTLS
	ImplicitTLS bool
	Auth        *auth.Authenticator
	Store       Store
	// ModeFor returns the user's pop3.mode [always ModeClient].
	ModeFor func(ctx context.Context, user mailstore.User) (Mode, error)
	// PlaintextAuthOnLoopback allows login without TLS from loopback clients.
	PlaintextAuthOnLoopback bool
	IdleTimeout             time.Duration      // [10m, the RFC 1939 minimum]
	MaxFailedLogins         int                // failed logins before the connection is closed [3]
	ConnLimiter             *connlimit.Limiter // connections per client address; nil: no cap
	ListenerMetrics         *listener.Metrics  // panics, refusals, accept errors; nil: not counted
	Logger                  *slog.Logger
	// Name labels this listener in logs ["pop3"].
	Name string
}

// Server is one POP3 listener's server.
type Server struct {
	opts Options
	log  *slog.Logger

	ln *listener.Server
}

// New returns a Server. The per-user maildrop lock is the store's, so every Server over one
// store (pop3 and pop3s) shares it.
func New(opts Options) (*Server, error) {
	if opts.Hostname == "" || opts.Auth == nil || opts.Store == nil {
		return nil, errors.New("pop3server: Hostname, Auth and Store are required")
	}
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("pop3server: implicit TLS needs a TLSConfig")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.MaxFailedLogins <= 0 {
		opts.MaxFailedLogins = 3
	}
	if opts.ModeFor == nil {
		opts.ModeFor = func(context.Context, mailstore.User) (Mode, error) { return ModeClient, nil }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Name == "" {
		opts.Name = "pop3"
	}
	s := &Server{opts: opts, log: opts.Logger.With("listener", opts.Name)}
	lo := listener.Options{Name: opts.Name, Limiter: opts.ConnLimiter, Logger: opts.Logger, Metrics: opts.ListenerMetrics,
		Refuse: func(c net.Conn) { c.Write([]byte("-ERR [SYS/TEMP] Too many connections from your address\r\n")) }}
	if opts.ImplicitTLS {
		lo.TLSConfig = opts.TLSConfig
	}
	s.ln = listener.New(lo)
	return s, nil
}

// Serve accepts connections on l until Shutdown, and then returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	return s.ln.Serve(l, func(c net.Conn) {
		defer c.Close()
		newSession(s, c).run()
	})
}

// Shutdown stops accepting and waits for sessions to end until ctx is done; then it closes
// them. Sessions that end this way change nothing (no QUIT).
func (s *Server) Shutdown(ctx context.Context) error { return s.ln.Shutdown(ctx) }
