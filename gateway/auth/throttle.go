package auth

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// ThrottleOptions configure a Throttle. Zero values take the defaults in brackets.
type ThrottleOptions struct {
	// FreeFailures are failures without delay [3].
	FreeFailures int
	// BaseDelay is the delay after the first slowed failure, doubling each time [1s].
	BaseDelay time.Duration
	// MaxDelay caps the delay [16s].
	MaxDelay time.Duration
	// LockoutFailures, once reached, refuse further attempts for LockoutWindow [20].
	LockoutFailures int
	// LockoutWindow is how long a refused key stays refused and how long failures are
	// remembered [15m]. The real user is locked out at most this long.
	LockoutWindow time.Duration
	// Now is the clock [time.Now].
	Now func() time.Time
}

// Throttle counts failed logins per client address (IPv6 per /64) and per account.
type Throttle struct {
	opts ThrottleOptions
	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n    int
	last time.Time
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
	if opts.LockoutFailures == 0 {
		opts.LockoutFailures = 20
	}
	if opts.LockoutWindow == 0 {
		opts.LockoutWindow = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Throttle{opts: opts, keys: map[string]*failures{}}
}

func clientKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + ip.String()
}

func (t *Throttle) get(key string, now time.Time) *failures {
	f := t.keys[key]
	if f != nil && now.Sub(f.last) > t.opts.LockoutWindow {
		delete(t.keys, key)
		f = nil
	}
	return f
}

// Allow reports ErrThrottled when the client or the account is locked out.
func (t *Throttle) Allow(client netip.Addr, account string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opts.Now()
	for _, k := range []string{clientKey(client), "acct:" + account} {
		if f := t.get(k, now); f != nil && f.n >= t.opts.LockoutFailures {
			return ErrThrottled
		}
	}
	return nil
}

// Fail records a failure and returns how long to wait before answering.
func (t *Throttle) Fail(client netip.Addr, account string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opts.Now()
	worst := 0
	for _, k := range []string{clientKey(client), "acct:" + account} {
		f := t.get(k, now)
		if f == nil {
			f = &failures{}
			t.keys[k] = f
		}
		f.n++
		f.last = now
		worst = max(worst, f.n)
	}
	if len(t.keys) > 100000 { // bound memory under a distributed attack
		for k, f := range t.keys {
			if now.Sub(f.last) > t.opts.LockoutWindow/4 {
				delete(t.keys, k)
			}
		}
	}
	if worst <= t.opts.FreeFailures {
		return 0
	}
	d := t.opts.BaseDelay << min(worst-t.opts.FreeFailures-1, 10)
	return min(d, t.opts.MaxDelay)
}

// Succeed clears the client's and the account's failures.
func (t *Throttle) Succeed(client netip.Addr, account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, clientKey(client))
	delete(t.keys, "acct:"+account)
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
