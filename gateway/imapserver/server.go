// Package imapserver is Sealgate's IMAP4rev2 server (RFC 9051) on
// github.com/emersion/go-imap/v2, backed by the mailstore. The library stays inside this
// package; the rest of Sealgate sees Options, Server and Notifier only.
//
// Listeners: without ImplicitTLS the server offers STARTTLS and advertises LOGINDISABLED
// until TLS is up, unless PlaintextAuthOnLoopback is set and the client is on loopback. With
// ImplicitTLS every connection starts with TLS. LOGIN and AUTHENTICATE PLAIN go through the
// shared auth.Authenticator, so failed logins are throttled across protocols.
//
// Besides IMAP4rev2 the server offers what clients expect: IDLE, UIDPLUS, MOVE, SPECIAL-USE,
// NAMESPACE, ESEARCH, LIST-EXTENDED, LIST-STATUS, UNSELECT, ENABLE, APPENDLIMIT (the gateway's
// message size limit; a larger literal is refused before it is read), BINARY, CHILDREN,
// LITERAL+ (RFC 7888; LITERAL- for IMAP4rev2 clients).
//
// Concurrency: every change goes to the store first. A session that has a mailbox selected
// keeps the sequence of UIDs its client knows and catches up from the store's MODSEQ and
// expunge log after each command and while idling, so it sees changes of other sessions and
// processes; an expunge reaches a client only where RFC 9051 §7.5.1 allows it, so sequence
// numbers never shift under a client that has not been told. A keyword reaches a client only
// after FLAGS and PERMANENTFLAGS listed it (keywords.go; at most MaxMailboxKeywords per
// mailbox), and a FETCH skips a message another session expunged while it ran. The Notifier wakes idling
// sessions at once when mail is delivered or another session changes a mailbox.
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
// Errors: *imap.Error values go to the client as they are; anything else is logged with a
// reference and answered "NO [SERVERBUG] internal error (ref …)", so no detail leaks.
package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

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
	// strict refuses authentication before TLS; loopback allows it (PlaintextAuthOnLoopback);
	// secure serves connections that are TLS already (implicit TLS, or after STARTTLS, which
	// commandGuard does).
	strict, loopback, secure       *imapserver.Server
	strictLn, loopbackLn, secureLn *chanListener

	ln    *listener.Server
	views *viewCache // the mailboxes its sessions selected

	mu      sync.Mutex
	closed  bool
	started bool // the library servers run
	wg      sync.WaitGroup
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
	s := &Server{opts: opts, log: opts.Logger.With("listener", opts.Name), views: newViewCache(viewCacheMessages)}
	lo := listener.Options{Name: opts.Name, Limiter: opts.ConnLimiter, Logger: opts.Logger, Metrics: opts.ListenerMetrics,
		Refuse: func(c net.Conn) { fmt.Fprint(c, "* BYE [UNAVAILABLE] Too many connections from your address\r\n") }}
	if opts.ImplicitTLS {
		lo.TLSConfig = opts.TLSConfig
	}
	s.ln = listener.New(lo)
	caps := imap.CapSet{
		imap.CapIMAP4rev2: {}, imap.CapIMAP4rev1: {},
		imap.CapNamespace: {}, imap.CapUIDPlus: {}, imap.CapESearch: {},
		imap.CapListExtended: {}, imap.CapListStatus: {}, imap.CapMove: {},
		imap.CapStatusSize: {}, imap.CapBinary: {}, imap.CapChildren: {},
		imap.CapSpecialUse: {}, imap.CapUnselect: {}, imap.CapEnable: {}, imap.CapIdle: {},
		// LITERAL+ (RFC 7888): an APPEND literal may be non-synchronizing up to APPENDLIMIT;
		// the literals of every other command stay within LITERAL-'s 4096 bytes.
		imap.CapLiteralPlus: {},
	}
	mk := func(insecure bool, tlsConf *tls.Config) *imapserver.Server {
		return imapserver.New(&imapserver.Options{
			NewSession:   s.newSession,
			Caps:         caps,
			Logger:       libLogger{s.log, s.ln},
			InsecureAuth: insecure,
			// The library only advertises STARTTLS and LOGINDISABLED from this; the
			// command itself never reaches it (commandGuard).
			TLSConfig: tlsConf,
		})
	}
	starttls := opts.TLSConfig
	if opts.ImplicitTLS {
		starttls = nil
	}
	s.strict = mk(false, starttls)
	s.strictLn = newChanListener()
	if opts.TLSConfig != nil {
		s.secure = mk(true, nil)
		s.secureLn = newChanListener()
	}
	if opts.PlaintextAuthOnLoopback {
		s.loopback = mk(true, starttls)
		s.loopbackLn = newChanListener()
	}
	return s, nil
}

// Serve accepts connections on l until Shutdown, and then returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	first := !s.started
	s.started = true
	s.mu.Unlock()
	if first {
		s.startLibServers()
	}
	return s.ln.Serve(l, s.handle)
}

// handle hands an accepted connection (TLS already on an implicit-TLS listener) to the
// library server for it, behind a commandGuard.
func (s *Server) handle(c net.Conn) {
	loop := isLoopback(c.RemoteAddr())
	c = &idleConn{Conn: c, max: s.opts.IdleTimeout}
	if s.opts.ImplicitTLS {
		s.secureLn.deliver(newCommandGuard(c, s.opts.MaxMessageSize))
		return
	}
	g := newCommandGuard(c, s.opts.MaxMessageSize)
	if s.opts.TLSConfig != nil {
		g.startTLS = s.startTLS
	}
	if loop && s.loopback != nil {
		s.loopbackLn.deliver(g)
	} else {
		s.strictLn.deliver(g)
	}
}

// startTLS answers a client's STARTTLS on the connection below its guard and moves the
// connection to the TLS-only library server as a new session, whose greeting the client
// must not see (RFC 9051 §6.2.1: the client sends CAPABILITY next).
func (s *Server) startTLS(_ *commandGuard, tag string, under net.Conn) {
	under.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := fmt.Fprintf(under, "%s OK Begin TLS negotiation now\r\n", tag)
	under.SetWriteDeadline(time.Time{})
	if err != nil {
		under.Close()
		return
	}
	g := newCommandGuard(tls.Server(under, s.opts.TLSConfig), s.opts.MaxMessageSize)
	g.greeting = true
	s.secureLn.deliver(g)
}

func (s *Server) startLibServers() {
	for _, ls := range []struct {
		srv *imapserver.Server
		ln  *chanListener
	}{{s.strict, s.strictLn}, {s.loopback, s.loopbackLn}, {s.secure, s.secureLn}} {
		if ls.srv == nil {
			continue
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); ls.srv.Serve(ls.ln) }()
	}
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
	started := s.started
	s.mu.Unlock()
	if !started {
		return s.ln.Shutdown(ctx)
	}
	<-s.strictLn.serving
	s.strict.Close()
	if s.loopback != nil {
		<-s.loopbackLn.serving
		s.loopback.Close()
	}
	if s.secure != nil {
		<-s.secureLn.serving
		s.secure.Close()
	}
	// The library has closed its sessions; what is left are connections on their way to it.
	s.ln.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// idleConn bounds every read deadline the library sets by the configured idle timeout, and
// gathers writes while corked.
//
// The library flushes after every response, which for FETCH of a whole mailbox is a write
// system call per message (a fifth of the CPU time of FETCH 1:* (FLAGS ENVELOPE)). Fetch
// corks the connection for its duration, so the responses leave in writes of up to
// corkBuffer bytes; the tagged completion is written after Fetch uncorks, so nothing waits.
type idleConn struct {
	net.Conn
	max time.Duration

	mu     sync.Mutex
	corked bool
	buf    []byte
	err    error // the first failed write of gathered bytes
}

// corkBuffer is how much a corked connection gathers before it writes.
const corkBuffer = 64 << 10

// corkWriteTimeout bounds the write of gathered bytes when the library has no deadline set.
const corkWriteTimeout = time.Minute

func (c *idleConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.corked {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) > corkBuffer {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= corkBuffer {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *idleConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
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
	c.Conn.SetWriteDeadline(time.Now().Add(corkWriteTimeout))
	err := c.flushLocked()
	c.Conn.SetWriteDeadline(time.Time{})
	if cap(c.buf) > corkBuffer {
		c.buf = nil
	}
	return err
}

// wireConn finds the idleConn under a library connection (TLS or not).
func wireConn(c net.Conn) *idleConn {
	for {
		switch cc := c.(type) {
		case *idleConn:
			return cc
		case *tls.Conn:
			c = cc.NetConn()
		case *commandGuard:
			c = cc.Conn
		default:
			return nil
		}
	}
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	if limit := time.Now().Add(c.max); t.IsZero() || t.After(limit) {
		t = limit
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// chanListener hands connections accepted elsewhere to a library server.
type chanListener struct {
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	// serving is closed at the first Accept: the library server is then fully started, and
	// only then may it be closed (its Close must not race with its Serve's start).
	serving     chan struct{}
	servingOnce sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), serving: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	l.servingOnce.Do(func() { close(l.serving) })
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// libLogger takes the library's log lines. The library recovers panics in sessions itself
// and reports them here ("panic handling command", "panic idling"): they are counted with
// the listener's.
type libLogger struct {
	l  *slog.Logger
	ln *listener.Server
}

func (g libLogger) Printf(format string, v ...any) {
	if strings.HasPrefix(format, "panic ") {
		g.ln.Panicked(fmt.Sprintf(format, v...))
		return
	}
	g.l.Warn(fmt.Sprintf(format, v...))
}
