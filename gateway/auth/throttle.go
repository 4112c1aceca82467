package auth

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleOptions configure a Throttle. Zero values take the defaults in brackets.
type ThrottleOptions struct {
	// FreeFailures are failures answered without delay [3].
	FreeFailures int
	// BaseDelay is the delay after the first slowed failure, doubling each time [1s].
	BaseDelay time.Duration
	// MaxDelay caps the delay [16s].
	MaxDelay time.Duration
	// AccountFailures, once reached by one client network for one account, answer that
	// network's further attempts for the account as throttled, without checking them [10].
	AccountFailures int
	// NetworkFailures, once reached by one client network (for any accounts), answer all its
	// further attempts as throttled [100].
	NetworkFailures int
	// Window is how long failures are remembered: a count starts over after this long
	// without a failure [15m].
	Window time.Duration
	// Store keeps the counts; nil keeps them in this process. With several gateway nodes on
	// one database, the database's store shares them.
	Store FailureStore
	// Now is the clock [time.Now].
	Now func() time.Time
}

// FailureStore keeps counts of failed logins by key. A count holds failures that came less
// than a window apart; after a window without one it starts over.
type FailureStore interface {
	// AddLoginFailure counts one failure under each key and returns the new counts.
	AddLoginFailure(ctx context.Context, keys []string, now time.Time, window time.Duration) ([]int, error)
	// LoginFailures returns the count under each key.
	LoginFailures(ctx context.Context, keys []string, now time.Time, window time.Duration) ([]int, error)
	// ClearLoginFailures forgets the count under key.
	ClearLoginFailures(ctx context.Context, key string) error
}

// Throttle slows down and then stops password guessing without locking anyone out.
//
// Failures are counted per client network (IPv4 /24, IPv6 /64), per client network and
// account, and per account. A failed attempt is answered after a delay that grows with the
// largest of the three counts. A network that has failed AccountFailures times for an
// account, or NetworkFailures times in all, gets ErrThrottled for its further attempts
// (without the password being checked) until it has been quiet for Window. Nothing is ever
// refused for the account as such: the right password from a network that has not been
// failing is accepted at once, however many guesses others have made.
type Throttle struct {
	opts ThrottleOptions
}

// NewThrottle returns a Throttle.
func NewThrottle(opts ThrottleOptions) *Throttle {
	if opts.FreeFailures == 0 {
		opts.FreeFailures = 3
	}
	if opts.BaseDelay == 0 {
		opts.BaseDelay = time.Second
	}
	if opts.MaxDelay == 0 {
		opts.MaxDelay = 16 * time.Second
	}
	if opts.AccountFailures == 0 {
		opts.AccountFailures = 10
	}
	if opts.NetworkFailures == 0 {
		opts.NetworkFailures = 100
	}
	if opts.Window == 0 {
		opts.Window = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Store == nil {
		opts.Store = NewMemoryFailures()
	}
	return &Throttle{opts: opts}
}

// Network returns the client network a login is counted under: the /24 of an IPv4
// address, the /64 of an IPv6 address. A loopback address counts alone: local clients
// (a proxy, a test) are told apart by their addresses.
func Network(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 64
	switch {
	case ip.IsLoopback():
		bits = ip.BitLen()
	case ip.Is4():
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

// throttleKeys are the keys of an attempt: network, network and account, account.
func throttleKeys(client netip.Addr, account string) []string {
	n := Network(client).String()
	return []string{"net " + n, "net+acct " + n + " " + account, "acct " + account}
}

// Allow returns ErrThrottled when client's network is throttled, for account or for all
// accounts, or an error of the store.
func (t *Throttle) Allow(ctx context.Context, client netip.Addr, account string) error {
	keys := throttleKeys(client, account)
	n, err := t.opts.Store.LoginFailures(ctx, keys[:2], t.opts.Now(), t.opts.Window)
	if err != nil {
		return err
	}
	if n[0] >= t.opts.NetworkFailures || n[1] >= t.opts.AccountFailures {
		return ErrThrottled
	}
	return nil
}

// Fail records a failure and returns how long to wait before answering it.
func (t *Throttle) Fail(ctx context.Context, client netip.Addr, account string) time.Duration {
	n, err := t.opts.Store.AddLoginFailure(ctx, throttleKeys(client, account), t.opts.Now(), t.opts.Window)
	if err != nil {
		return t.opts.MaxDelay // uncounted: answer slowly
	}
	worst := max(n[0], n[1], n[2])
	if worst <= t.opts.FreeFailures {
		return 0
	}
	d := t.opts.BaseDelay << min(worst-t.opts.FreeFailures-1, 10)
	return min(d, t.opts.MaxDelay)
}

// ThrottledDelay is how long a throttled attempt waits before its answer.
func (t *Throttle) ThrottledDelay() time.Duration { return t.opts.MaxDelay }

// Succeed clears the failures of client's network for account. The network's and the
// account's own counts stay: one good login (perhaps to the guesser's own account) must not
// reset what guessing has run up.
func (t *Throttle) Succeed(ctx context.Context, client netip.Addr, account string) {
	t.opts.Store.ClearLoginFailures(ctx, throttleKeys(client, account)[1])
}

// MemoryFailures is a FailureStore in this process's memory, for one gateway node.
type MemoryFailures struct {
	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// maxMemoryKeys bounds the memory a distributed attack can take.
const maxMemoryKeys = 100000

// NewMemoryFailures returns an empty MemoryFailures.
func NewMemoryFailures() *MemoryFailures { return &MemoryFailures{keys: map[string]*failures{}} }

func (m *MemoryFailures) get(key string, now time.Time, window time.Duration) *failures {
	f := m.keys[key]
	if f != nil && now.Sub(f.last) >= window {
		delete(m.keys, key)
		f = nil
	}
	return f
}

// AddLoginFailure implements FailureStore.
func (m *MemoryFailures) AddLoginFailure(_ context.Context, keys []string, now time.Time, window time.Duration) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int, len(keys))
	for i, k := range keys {
		f := m.get(k, now, window)
		if f == nil {
			f = &failures{}
			m.keys[k] = f
		}
		f.n++
		f.last = now
		out[i] = f.n
	}
	if len(m.keys) > maxMemoryKeys {
		for k, f := range m.keys {
			if now.Sub(f.last) > window/4 && !strings.HasPrefix(k, "net ") {
				delete(m.keys, k)
			}
		}
	}
	return out, nil
}

// LoginFailures implements FailureStore.
func (m *MemoryFailures) LoginFailures(_ context.Context, keys []string, now time.Time, window time.Duration) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int, len(keys))
	for i, k := range keys {
		if f := m.get(k, now, window); f != nil {
			out[i] = f.n
		}
	}
	return out, nil
}

// ClearLoginFailures implements FailureStore.
func (m *MemoryFailures) ClearLoginFailures(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
