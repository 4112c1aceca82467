// Package imapserver is Sealgate's IMAP4rev2 server (RFC 9051), backed by the mailstore. It
// runs its own protocol engine (conn.go, dispatch.go, respond.go) on imapwire's bounded
// command decoder and buffered encoder; go-imap/v2 lends only its types (imap.Flag,
// imap.FetchOptions …). The rest of Sealgate sees Options, Server and Notifier only.
//
// The engine: one goroutine per connection reads a command, checks it against the session's
// state (not authenticated, authenticated, selected, logout), runs it, sends the untagged
// updates of the selected mailbox (not EXPUNGE after FETCH, STORE or SEARCH, RFC 9051
// §7.5.1), and answers with the tagged response; the responses of a command leave together
// when it ends. A command the server cannot parse is answered BAD and its rest dropped; the
// bytes of a literal the server refused are never read as commands (imapwire.Decoder.Discard),
// and a refused non-synchronizing literal larger than the message size limit ends the
// session with BYE. A panic in a command is counted with the listener's, the client told BYE
// and the connection closed. Bytes a client pipelined after STARTTLS are dropped, never run
// inside TLS.
//
// Listeners: without ImplicitTLS the server offers STARTTLS and advertises LOGINDISABLED
// until TLS is up, unless PlaintextAuthOnLoopback is set and the client is on loopback. With
// ImplicitTLS every connection starts with TLS. LOGIN and AUTHENTICATE PLAIN go through the
// shared auth.Authenticator, so failed logins are throttled across protocols.
//
// Besides IMAP4rev2 the server offers what clients expect: IDLE, UIDPLUS, MOVE, SPECIAL-USE,
// NAMESPACE, ESEARCH, LIST-EXTENDED, LIST-STATUS, UNSELECT, ENABLE, APPENDLIMIT (the gateway's
// message size limit; a larger literal is refused before it is read), BINARY, CHILDREN,
// LITERAL+ (RFC 7888; LITERAL- for IMAP4rev2 clients), SASL-IR, ID (RFC 2971; the client's
// identification is logged).
//
// Concurrency: every change goes to the store first. A session that has a mailbox selected
// keeps the sequence of UIDs its client knows and catches up from the store's MODSEQ and
// expunge log after each command and while idling, so it sees changes of other sessions and
// processes; an expunge reaches a client only where RFC 9051 §7.5.1 allows it, so sequence
// numbers never shift under a client that has not been told. A keyword reaches a client only
// after FLAGS and PERMANENTFLAGS listed it (keywords.go; at most MaxMailboxKeywords per
// mailbox), and a FETCH skips a message another session expunged while it ran. The Notifier
// wakes idling sessions at once when mail is delivered or another session changes a mailbox.
//
// \Recent (RFC 3501 §2.3.2) is kept for IMAP4rev1 clients: a new message is recent for the
// first session that selects its mailbox, through the store's mark (ClaimRecent); EXAMINE
// shows without claiming. A client that ENABLEs IMAP4rev2 neither sees nor claims it.
//
// Subscriptions (RFC 9051 §6.3.7): a mailbox's is its store flag; when the mailbox is
// deleted the name stays subscribed (the store's SubscribedNames, listed \NonExistent), and
// a mailbox created with that name takes it back. CREATE subscribes nothing.
//
// FETCH reads a message's MIME structure in one pass that keeps only headers and offsets
// (mimetree.go): BODYSTRUCTURE, BODY[section] and BINARY (transfer encoding undone, RFC 3516)
// come from it, and ENVELOPE keeps address groups (RFC 9051 §7.5.2). APPEND and COPY past the
// account's storage quota answer NO [OVERQUOTA] (RFC 9208 §5).
//
// Search uses the store's trigram index (mailstore.SearchText), which Options.Index fills
// (shared by every listener of the gateway and by web mail), and scans only the messages it
// has not reached yet (mailindex.Indexer.Unindexed and Texts), a chunk of the mailbox at a time.
//
// Large mailboxes: each Server caches, per mailbox, the list of its messages (UIDs, flags,
// keywords; viewcache.go) that SELECT hands to the session, checked against the store's
// counts row and brought up to date from its MODSEQ and expunge log, so a SELECT costs what
// changed since, not the mailbox; sessions share the list and copy it at their first change.
//
// Errors: session.fail is the one place errors become responses: *imap.Error values go to
// the client as they are; anything else is logged with a reference and answered
// "NO [SERVERBUG] internal error (ref …)", so no detail leaks.
package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/connlimit"
	"github.com/sealgate/sealgate/gateway/listener"
	"github.com/sealgate/sealgate/gateway/mailindex"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = listener.ErrServerClosed

// Options configure a Server. Zero values take the defaults in brackets.
type Options struct {
	Name string // labels this listener in logs ["imap"]
	// TLSConfig enables STARTTLS; with ImplicitTLS every connection starts with TLS.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	Store       Store
	// Index fills the search index SEARCH reads and stores ENVELOPEs (EncodeEnvelope); the
	// caller runs it, once for all its servers. APPEND tells it of new messages.
	Index *mailindex.Indexer
	// SpoolDir holds APPEND literals too large to keep in memory while they are stored
	// [os.TempDir()]. Files there are unlinked at once.
	SpoolDir string
	Auth     *auth.Authenticator
	// PlaintextAuthOnLoopback allows LOGIN and AUTHENTICATE without TLS from loopback clients.
	PlaintextAuthOnLoopback bool
	// MaxMessageSize is the APPENDLIMIT [50 MiB].
	MaxMessageSize int64
	// IdleTimeout closes a connection that sends nothing for this long [30m].
	IdleTimeout time.Duration
	// ConnLimiter caps connections per client address; nil means no cap.
	ConnLimiter *connlimit.Limiter
	// ListenerMetrics count panics, refused connections and accept errors; nil: not counted.
	ListenerMetrics *listener.Metrics
	// Notifier wakes idling sessions; nil means a private one (changes by other Servers and
	// by deliveries are then seen only by polling).
	Notifier *Notifier
	// PollInterval is how often an idling session checks the store for changes nobody
	// notified (other processes) [5s].
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Server is one IMAP listener's server.
type Server struct {
	opts Options
	log  *slog.Logger
	ln   *listener.Server

	views *viewCache // the mailboxes its sessions selected

	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Auth == nil || opts.Index == nil {
		return nil, errors.New("imapserver: Store, Auth and Index are required")
	}
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("imapserver: implicit TLS needs a TLSConfig")
	}
	if opts.Name == "" {
		opts.Name = "imap"
	}
	if opts.MaxMessageSize <= 0 || opts.MaxMessageSize > 1<<32-1 {
		opts.MaxMessageSize = 50 << 20
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Notifier == nil {
		opts.Notifier = NewNotifier()
	}
	s := &Server{opts: opts, log: opts.Logger.With("listener", opts.Name), views: newViewCache(viewCacheMessages), sessions: map[*session]struct{}{}}
	lo := listener.Options{Name: opts.Name, Limiter: opts.ConnLimiter, Logger: opts.Logger, Metrics: opts.ListenerMetrics,
		Refuse: func(c net.Conn) { fmt.Fprint(c, "* BYE [UNAVAILABLE] Too many connections from your address\r\n") }}
	if opts.ImplicitTLS {
		lo.TLSConfig = opts.TLSConfig
	}
	s.ln = listener.New(lo)
	return s, nil
}

// Serve accepts connections on l until Shutdown, and then returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrServerClosed
	}
	return s.ln.Serve(l, s.serve)
}

// track registers a session for Shutdown; false once shutting down.
func (s *Server) track(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[sess] = struct{}{}
	return true
}

func (s *Server) untrack(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Shutdown stops accepting and closes every session: IMAP clients reconnect, and nothing a
// session does is left half-done because every change is one store transaction.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	for sess := range s.sessions {
		sess.wire.Conn.Close()
	}
	s.mu.Unlock()
	return s.ln.Shutdown(ctx)
}

// idleConn is the accepted connection: every write has a deadline, and writes are gathered
// while corked.
//
// A session's Encoder writes when its buffer fills; Fetch corks the connection for its
// duration, so the responses of a FETCH of a whole mailbox leave in writes of up to
// corkBuffer bytes (under TLS, in fewer records); the tagged completion is written after
// Fetch uncorks, so nothing waits.
type idleConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte
	err    error // the first failed write of gathered bytes
}

// corkBuffer is how much a corked connection gathers before it writes.
const corkBuffer = 64 << 10

// writeTimeout bounds every write to a client.
const writeTimeout = time.Minute

func (c *idleConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.corked {
		return c.write(p)
	}
	if len(c.buf)+len(p) > corkBuffer {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= corkBuffer {
			return c.write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *idleConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.write(c.buf)
	c.buf = c.buf[:0]
	if err != nil {
		c.err = err
	}
	return err
}

// cork gathers writes until uncork.
func (c *idleConn) cork() {
	c.mu.Lock()
	c.corked = true
	if c.buf == nil {
		c.buf = make([]byte, 0, corkBuffer)
	}
	c.mu.Unlock()
}

// uncork writes what was gathered and lets later writes through at once.
func (c *idleConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return c.err
	}
	err := c.flushLocked()
	if cap(c.buf) > corkBuffer {
		c.buf = nil
	}
	return err
}

func (c *idleConn) write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.Conn.Write(p)
}
