// Package smtpserver is Sealgate's SMTP server, in two roles:
//
//   - MX (RoleMX): mail from the Internet for local recipients. No AUTH. A recipient in a
//     local domain must be an account (550 5.1.1 otherwise); any other recipient is refused
//     with 554 5.7.1 relay access denied, whatever the address looks like.
//   - Gateway mode (Options.Relay), on both roles: a recipient in a relay domain is accepted
//     unless its next hop refuses it to a callout (550 5.1.1; a next hop that cannot answer
//     refuses nobody). On the MX role a client in a trusted network may relay to any domain
//     when the envelope sender is in a local or relay domain or null; classify (relay.go)
//     is the one place that tells local, relay and other domains apart.
//   - Submission (RoleSubmission): the gateway's own users. AUTH PLAIN or LOGIN is required
//     before MAIL, and AUTH is offered only on TLS (STARTTLS, or implicit TLS on the
//     "submissions" listener), or on a loopback connection when PlaintextAuthOnLoopback is set
//     for development. The envelope sender must be an address the user owns; the From: header
//     is checked by the pipeline.
//
// The protocol engine is Sealgate's own (conn.go, data.go, parse.go, auth.go): go-smtp's
// server read DATA one byte at a time through a per-byte state machine, which was about 12 %
// of the CPU per message in SMTP ingest, and offered no way to replace it. It speaks RFC 5321
// with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
// ENHANCEDSTATUSCODES (RFC 2034, 3463), CHUNKING (BDAT, RFC 3030), STARTTLS (RFC 3207) and
// AUTH (RFC 4954). Its contract:
//
//   - DATA ends only at CRLF "." CRLF and a leading dot is removed only after CRLF: a bare LF
//     neither ends the message nor starts a line, so nothing can be smuggled past the end of
//     a message. The reader scans the connection's buffered bytes in bulk.
//   - A message over MaxMessageSize is read to its end and discarded, then refused with
//     552 5.3.4; a command line over MaxLineLength is discarded with 500 5.4.0 and the
//     session goes on. Lines inside a message are bounded only by the message size.
//   - Replies are buffered and written when no further command is already waiting in the
//     read buffer, or before the server blocks on a read: one write per pipelined group.
//   - Anything a client sends after STARTTLS before the handshake is refused (554 5.5.0 and
//     the connection closes); after TLS every earlier state, HELO and AUTH included, is gone.
//   - AUTH exchanges are never logged. Ten protocol errors in a row end a session with 421,
//     as does IdleTimeout without a complete command (and without progress inside DATA).
//   - Storage quotas (Options.Quotas): RCPT for a local account at or past its limit is
//     refused with 452 4.2.2; a message the store refuses for every local recipient because
//     it would overflow their mailboxes with 552 5.2.2 (the pipeline delivers it to the
//     others and notifies the sender when only some are full). Relayed mail is not counted.
//   - Unknown local recipients (address harvesting): past half of MaxUnknownRecipients in a
//     session each 550 waits a growing delay; one more ends the session with 421 4.7.0.
//
// This package is the only place SMTP replies are formed (replies.go). Errors from the
// pipeline and the store are translated here: our own sentinel errors become their proper
// codes, anything else becomes "451 4.3.0" with a reference that is also in the log, so no
// internal detail reaches the client. A message is answered 250 only after pipeline.Process
// returned nil, which means every copy is durable.
package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/connlimit"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/listener"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = listener.ErrServerClosed

// Accounts is what the server needs to check local recipients.
type Accounts interface {
	mailstore.AccountLookup
}

// Quotas tells an account's storage usage and limit.
type Quotas interface {
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
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
	// Quotas, when set, refuses RCPT for a local account at or past its storage limit with
	// 452 4.2.2 (the store refuses a message that would take it past at DATA: 552 5.2.2).
	Quotas Quotas
	// Directory resolves local recipients (aliases, sub-addresses, postmaster@, SRS bounces)
	// and holds the sub-address rule senders are checked with; nil looks up accounts by
	// their exact address only.
	Directory *addressing.Directory
	// SRS rewrites the envelope sender of mail an alias forwards to another domain; nil keeps it.
	SRS      *addressing.SRS
	Auth     *auth.Authenticator
	Pipeline Processor
	// PlaintextAuthOnLoopback allows AUTH without TLS from loopback clients.
	PlaintextAuthOnLoopback bool
	MaxMessageSize          int64         // [50 MiB]
	MaxRecipients           int           // [1000]
	MaxLineLength           int           // longest command line, CRLF included [4096]
	IdleTimeout             time.Duration // [5m]

	// MaxUnknownRecipients is how many unknown local recipients a session may try; past
	// half of them each is answered after a growing delay, one more ends the session [20].
	MaxUnknownRecipients int
	// UnknownRecipientDelay is the first of those delays, doubling up to eight times it [1s].
	UnknownRecipientDelay time.Duration
	// ConnLimiter caps connections per client address; nil means no cap.
	ConnLimiter *connlimit.Limiter
	// SpoolDir is where large messages spill (encrypted) while being processed [os.TempDir()].
	SpoolDir string
	Logger   *slog.Logger
	Metrics  *Metrics // nil: not counted
	// ListenerMetrics count panics, refused connections and accept errors; nil: not counted.
	ListenerMetrics *listener.Metrics
	// Name labels this listener in logs and metrics ["smtp"].
	Name string

	// Relay is gateway mode: relay domains and trusted networks; the zero value has neither.
	Relay Relay
}

// Server is one SMTP listener's server.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics listenerMetrics

	// Per-connection buffers, reused across connections of this server.
	readers sync.Pool // *bufio.Reader
	writers sync.Pool // *bufio.Writer

	ln       *listener.Server
	workers  *workers
	stopOnce sync.Once
}

// Buffer sizes: a read buffer large enough for a typical message in one or two system calls,
// a write buffer for a burst of pipelined replies.
const (
	readBufferSize  = 16 << 10
	writeBufferSize = 4 << 10
)

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
	if opts.MaxUnknownRecipients <= 0 {
		opts.MaxUnknownRecipients = 20
	}
	if opts.UnknownRecipientDelay <= 0 {
		opts.UnknownRecipientDelay = time.Second
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
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With("listener", opts.Name),
		metrics: opts.Metrics.bind(opts.Name),
		workers: newWorkers(),
	}
	lo := listener.Options{Name: opts.Name, Limiter: opts.ConnLimiter, Logger: opts.Logger, Metrics: opts.ListenerMetrics, Go: s.workers.run,
		Refuse: func(c net.Conn) {
			fmt.Fprintf(c, "421 4.7.0 %s Too many connections from your address\r\n", opts.Hostname)
		}}
	if opts.ImplicitTLS {
		lo.TLSConfig = opts.TLSConfig
	}
	s.ln = listener.New(lo)
	s.readers.New = func() any { return bufio.NewReaderSize(nil, readBufferSize) }
	s.writers.New = func() any { return bufio.NewWriterSize(nil, writeBufferSize) }
	return s, nil
}

// Serve accepts connections on l until Shutdown, and then returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	return s.ln.Serve(l, func(nc net.Conn) { (&conn{srv: s, raw: nc, nc: nc}).serve() })
}

// Shutdown stops accepting, waits for open sessions to end until ctx is done, then closes
// them. It returns ErrServerClosed when the server was already shut down.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.workers.stop) }) // idle workers end, waits end early
	return s.ln.Shutdown(ctx)
}

// subaddressing is the sub-address rule of the Directory; without one, none.
func (s *Server) subaddressing() address.Subaddressing {
	if s.opts.Directory == nil {
		return address.Subaddressing{}
	}
	return s.opts.Directory.Rule()
}

// resolve returns the pipeline recipients of a local recipient.
func (s *Server) resolve(ctx context.Context, a address.Address, mailFrom string) ([]envelope.Recipient, error) {
	if s.opts.Directory != nil {
		return s.opts.Directory.Recipients(ctx, a, mailFrom)
	}
	u, err := s.opts.Accounts.UserByAddress(ctx, a)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil, addressing.ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	return []envelope.Recipient{{Address: a, UserID: u.ID}}, nil
}
