// Package connlimit caps simultaneous connections per client address across listeners.
// IPv4 addresses count one by one, IPv6 addresses per /64. Loopback is not exempt.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Limiter counts open connections per client.
type Limiter struct {
	max int
	mu  sync.Mutex
	n   map[netip.Addr]int
}

// New returns a Limiter allowing max connections per client; max <= 0 means no limit.
func New(max int) *Limiter { return &Limiter{max: max, n: map[netip.Addr]int{}} }

func key(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (l *Limiter) acquire(k netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.n[k] >= l.max {
		return false
	}
	l.n[k]++
	return true
}

func (l *Limiter) release(k netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k]--; l.n[k] <= 0 {
		delete(l.n, k)
	}
}

// Listener wraps inner: a connection over the limit is handed to Refuse (which writes the
// protocol's refusal) and closed, never returned by Accept.
type Listener struct {
	net.Listener
	Limiter *Limiter
	// Refuse writes a refusal to a connection over the limit; nil closes it silently.
	Refuse func(net.Conn)
}

// Accept returns the next connection within the limit.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		k := key(c.RemoteAddr())
		if l.Limiter.acquire(k) {
			return &conn{Conn: c, release: func() { l.Limiter.release(k) }}, nil
		}
		if l.Refuse != nil {
			go func() { l.Refuse(c); c.Close() }()
		} else {
			c.Close()
		}
	}
}

type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
