// Package smtpserver is Sealgate's SMTP server on github.com/emersion/go-smtp, in two roles:
//
//   - MX (RoleMX): mail from the Internet for local recipients. No AUTH. A recipient in a
//     local domain must be an account (550 5.1.1 otherwise); any other recipient is refused
//     with 554 5.7.1 relay access denied, whatever the address looks like.
//   - Submission (RoleSubmission): the gateway's own users. AUTH PLAIN or LOGIN is required
//     before MAIL, and AUTH is offered only on TLS (STARTTLS, or implicit TLS on the
//     "submissions" listener), or on a loopback connection when PlaintextAuthOnLoopback is set
//     for development. The envelope sender must be an address the user owns; the From: header
//     is checked by the pipeline.
//
// This package is the only place SMTP replies are formed. Errors from the pipeline and the
// store are translated here: our own sentinel errors become their proper codes, anything
// else becomes "451 4.3.0" with a reference that is also in the log, so no internal detail
// reaches the client. A message is answered 250 only after pipeline.Process returned nil,
// which means every copy is durable.
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/connlimit"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = smtp.ErrServerClosed

// Accounts is what the server needs to check local recipients.
type Accounts interface {
	UserByAddress(ctx context.Context, addr address.Address) (mailstore.User, error)
}

// Processor takes an accepted message; *pipeline.Pipeline implements it.
type Processor interface {
	Process(ctx context.Context, env *pipeline.Envelope, msg *msgbuf.Buffer) (mailstore.Delivered, error)
}

// Options configure a Server. Zero values take the defaults in brackets.
type Options struct {
	Hostname string
	Role     pipeline.Role
	// TLSConfig enables STARTTLS; with ImplicitTLS every connection starts with TLS.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// IsLocalDomain reports whether a (canonical) domain is one of ours.
	IsLocalDomain func(domain string) bool
	Accounts      Accounts
	// Directory resolves local recipients (aliases, sub-addresses, postmaster@, SRS bounces);
	// nil looks up accounts only.
	Directory *addressing.Directory
	// SRS rewrites the envelope sender of mail an alias forwards to another domain; nil keeps it.
	SRS      *addressing.SRS
	Auth     *auth.Authenticator
	Pipeline Processor
	// PlaintextAuthOnLoopback allows AUTH without TLS from loopback clients.
	PlaintextAuthOnLoopback bool
	MaxMessageSize          int64         // [50 MiB]
	MaxRecipients           int           // [1000]
	MaxLineLength           int           // [4096]
	IdleTimeout             time.Duration // [5m]
	// ConnLimiter caps connections per client address; nil means no cap.
	ConnLimiter *connlimit.Limiter
	// SpoolDir is where large messages spill (encrypted) while being processed [os.TempDir()].
	SpoolDir string
	Logger   *slog.Logger
	Metrics  *Metrics // nil: not counted
	// Name labels this listener in logs and metrics ["smtp"].
	Name string
}

// Server is one SMTP listener's server.
type Server struct {
	opts    Options
	smtp    *smtp.Server
	log     *slog.Logger
	metrics listenerMetrics
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Hostname == "" || opts.IsLocalDomain == nil || opts.Accounts == nil || opts.Pipeline == nil {
		return nil, errors.New("smtpserver: Hostname, IsLocalDomain, Accounts and Pipeline are required")
	}
	if opts.Role == pipeline.RoleSubmission && opts.Auth == nil {
		return nil, errors.New("smtpserver: submission needs an Authenticator")
	}
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("smtpserver: implicit TLS needs a TLSConfig")
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 50 << 20
	}
	if opts.MaxRecipients <= 0 {
		opts.MaxRecipients = 1000
	}
	if opts.MaxLineLength <= 0 {
		opts.MaxLineLength = 4096
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Name == "" {
		opts.Name = "smtp"
	}
	s := &Server{opts: opts, log: opts.Logger.With("listener", opts.Name), metrics: listenerMetrics{opts.Metrics, opts.Name}}
	be := smtp.BackendFunc(s.newSession)
	srv := smtp.NewServer(be)
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = opts.MaxMessageSize
	srv.MaxRecipients = opts.MaxRecipients
	srv.MaxLineLength = opts.MaxLineLength
	srv.ReadTimeout = opts.IdleTimeout
	srv.WriteTimeout = opts.IdleTimeout
	srv.EnableSMTPUTF8 = true
	// Whether AUTH is allowed is decided per connection by the session (TLS or permitted
	// loopback), so the library's server-wide switch stays open.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slogLogger{opts.Logger}
	if !opts.ImplicitTLS {
		srv.TLSConfig = opts.TLSConfig
	}
	s.smtp = srv
	return s, nil
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if s.opts.ConnLimiter != nil {
		l = &connlimit.Listener{Listener: l, Limiter: s.opts.ConnLimiter, Refuse: func(c net.Conn) {
			if s.opts.ImplicitTLS {
				return // no TLS yet: nothing readable to say
			}
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "421 4.7.0 %s Too many connections from your address\r\n", s.opts.Hostname)
			s.metrics.refused()
		}}
	}
	if s.opts.ImplicitTLS {
		l = tls.NewListener(l, s.opts.TLSConfig)
	}
	err := s.smtp.Serve(l)
	if err == nil {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, waits for open sessions to end until ctx is done, then closes them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return s.smtp.Close()
	}
	return err
}

// resolve returns the pipeline recipients of a local recipient.
func (s *Server) resolve(ctx context.Context, a address.Address, mailFrom string) ([]pipeline.Recipient, error) {
	if s.opts.Directory != nil {
		return s.opts.Directory.Recipients(ctx, a, mailFrom)
	}
	u, err := s.opts.Accounts.UserByAddress(ctx, a.Base(auth.SubaddressSeparator))
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil, addressing.ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	return []pipeline.Recipient{{Address: a, UserID: u.ID}}, nil
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s slogLogger) Println(v ...any)               { s.l.Warn(fmt.Sprint(v...)) }
