// Package listener is the one accept loop of Sealgate's servers: SMTP, IMAP and POP3 serve
// through Serve, the HTTP server through Wrap. It is the only code in Sealgate that calls
// Accept. For every listener it
//
//   - retries an Accept that failed for a reason that passes (out of file descriptors or
//     memory, a connection aborted before it was accepted) with exponential backoff from
//     5 ms to 1 s, logged and counted, instead of ending the server;
//   - caps simultaneous connections per client address (connlimit): a connection over the
//     cap gets the protocol's refusal (Refuse) and is closed, never served;
//   - starts TLS on every connection when the listener is implicit TLS;
//   - tracks every connection it handed on until it is closed, so Shutdown can wait for them
//     and then close what is left;
//   - recovers a panic in a connection's goroutine, logs it with its stack and counts it,
//     so one bad session never takes the process down;
//   - returns ErrServerClosed from Serve after Shutdown.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/sealgate/sealgate/gateway/connlimit"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. The protocol servers' own
// ErrServerClosed values are this one.
var ErrServerClosed = errors.New("server closed")

// Options configure a Server. Zero values take the defaults in brackets.
type Options struct {
	// Name labels the listener in logs and metrics ["listener"].
	Name string
	// Limiter caps connections per client address; nil means no cap.
	Limiter *connlimit.Limiter
	// Refuse writes the protocol's refusal to a connection over the cap, before TLS; nil
	// closes it without a word. It runs on its own goroutine with a write deadline set.
	Refuse func(net.Conn)
	// TLSConfig, when set, starts every connection with TLS (implicit TLS).
	TLSConfig *tls.Config
	// Go runs a connection's function; nil starts a goroutine for it. A server with a pool
	// of goroutines passes its own.
	Go func(func())
	// Logger [slog.Default()].
	Logger *slog.Logger
	// Metrics counts panics, refusals and accept errors; nil counts nothing.
	Metrics *Metrics
}

// Server accepts connections for one protocol server, on any number of listeners.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics listenerMetrics

	mu      sync.Mutex
	closed  bool
	stop    chan struct{} // closed at Shutdown: ends backoff waits
	lns     map[net.Listener]struct{}
	conns   map[*conn]struct{}
	drained chan struct{} // closed when conns becomes empty after Shutdown

	handlers sync.WaitGroup // Serve's handlers still running
}

// closeGrace is how long Shutdown waits for handlers whose connections it closed: they may be
// inside a store or DNS call that does not watch the connection.
const closeGrace = 10 * time.Second

// New returns a Server.
func New(opts Options) *Server {
	if opts.Name == "" {
		opts.Name = "listener"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Go == nil {
		opts.Go = func(f func()) { go f() }
	}
	return &Server{
		opts:    opts,
		log:     opts.Logger.With("listener", opts.Name),
		metrics: opts.Metrics.bind(opts.Name),
		stop:    make(chan struct{}),
		lns:     map[net.Listener]struct{}{},
		conns:   map[*conn]struct{}{},
	}
}

// Serve accepts connections on l until Shutdown and runs handle for each (through
// Options.Go), with panics recovered. handle owns the connection and closes it.
func (s *Server) Serve(l net.Listener, handle func(net.Conn)) error {
	if !s.register(l) {
		return ErrServerClosed
	}
	defer s.unregister(l)
	for {
		c, err := s.accept(l)
		if err != nil {
			return err
		}
		if !s.addHandler() {
			c.Close()
			return ErrServerClosed
		}
		s.opts.Go(func() {
			defer s.handlers.Done()
			defer s.recoverPanic(c)
			handle(c)
		})
	}
}

// Wrap returns l as a listener whose Accept applies the per-address cap, tracking, retry and
// TLS of this Server, for a server that runs its own loop (net/http). Its Accept returns
// ErrServerClosed after Shutdown.
func (s *Server) Wrap(l net.Listener) net.Listener {
	return &wrapped{Listener: l, s: s}
}

type wrapped struct {
	net.Listener
	s    *Server
	once sync.Once
	ok   bool
}

func (w *wrapped) Accept() (net.Conn, error) {
	w.once.Do(func() { w.ok = w.s.register(w.Listener) })
	if !w.ok {
		return nil, ErrServerClosed
	}
	return w.s.accept(w.Listener)
}

func (w *wrapped) Close() error {
	w.s.unregister(w.Listener)
	return w.Listener.Close()
}

// accept returns the next connection to serve: within the cap, tracked, with TLS started.
func (s *Server) accept(l net.Listener) (net.Conn, error) {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return nil, ErrServerClosed
			}
			if !Retryable(err) {
				return nil, err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.metrics.acceptErrors.Inc()
			s.log.Warn("accept failed, retrying", "err", err, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				return nil, ErrServerClosed
			}
			continue
		}
		delay = 0
		release, ok := s.opts.Limiter.Acquire(nc.RemoteAddr())
		if !ok {
			s.metrics.refused.Inc()
			go s.refuse(nc)
			continue
		}
		c := &conn{Conn: nc, s: s, release: release}
		if !s.track(c) {
			nc.Close()
			release()
			return nil, ErrServerClosed
		}
		if s.opts.TLSConfig != nil {
			return tls.Server(c, s.opts.TLSConfig), nil
		}
		return c, nil
	}
}

// Retryable reports whether Accept failed for a reason that passes (out of file descriptors
// or memory, or a connection aborted before it was accepted), so the loop should go on.
func Retryable(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ECONNRESET)
}

func (s *Server) refuse(c net.Conn) {
	defer c.Close()
	if s.opts.Refuse == nil || s.opts.TLSConfig != nil {
		return // no TLS yet on an implicit-TLS listener: nothing readable to say
	}
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.opts.Refuse(c)
}

// recoverPanic ends a connection whose goroutine panicked: logged with the stack, counted.
func (s *Server) recoverPanic(c net.Conn) {
	if v := recover(); v != nil {
		s.Panicked(v)
		c.Close()
	}
}

// Panicked logs and counts a panic a connection's code recovered itself (to say goodbye in
// its protocol first). Call it from the deferred function that recovered, so the stack
// logged is the panic's.
func (s *Server) Panicked(v any) {
	s.metrics.panics.Inc()
	s.log.Error("panic in session", "panic", v, "stack", string(debug.Stack()))
}

// addHandler counts a handler about to run; false once shutting down. Under mu, so every
// Add happens before Shutdown's Wait.
func (s *Server) addHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

// register and track add a listener or a connection to what Shutdown closes, unless the
// server is closed already; they report whether they did.
func (s *Server) register(l net.Listener) bool { return addOpen(s, s.lns, l) }

func (s *Server) track(c *conn) bool { return addOpen(s, s.conns, c) }

func addOpen[K comparable](s *Server, set map[K]struct{}, k K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	set[k] = struct{}{}
	return true
}

func (s *Server) unregister(l net.Listener) {
	s.mu.Lock()
	delete(s.lns, l)
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// Shutdown stops accepting on every listener, waits until every connection handed on is
// closed or ctx ends, then closes those still open and waits (a little) for Serve's
// handlers to return. It returns ErrServerClosed when the Server was already shut down.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	close(s.stop)
	for l := range s.lns {
		l.Close()
	}
	var drained chan struct{}
	if len(s.conns) > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	s.mu.Unlock()
	handled := make(chan struct{})
	go func() { s.handlers.Wait(); close(handled) }()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.Conn.Close()
			}
			s.mu.Unlock()
		}
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-handled:
	case <-t.C:
		s.log.Warn("sessions still running after their connections were closed")
	}
	return nil
}

// conn is a connection handed on: closing it releases its place under the cap and ends its
// tracking.
type conn struct {
	net.Conn
	s       *Server
	release func()
	once    sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.release()
		c.s.untrack(c)
	})
	return c.Conn.Close()
}
