// Package connlimit caps simultaneous connections per client address across listeners.
// IPv4 addresses count one by one, IPv6 addresses per /64. Loopback is not exempt. The
// listener package applies it to every accepted connection.
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

// Acquire takes a place for a connection from remote; ok is false when its client is at
// the limit. release gives the place back (once). A nil Limiter allows everything.
func (l *Limiter) Acquire(remote net.Addr) (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	k := key(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.n[k] >= l.max {
		return nil, false
	}
	l.n[k]++
	var once sync.Once
	return func() { once.Do(func() { l.release(k) }) }, true
}

func (l *Limiter) release(k netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k]--; l.n[k] <= 0 {
		delete(l.n, k)
	}
}
