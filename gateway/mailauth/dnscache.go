package mailauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"time"
)

// Lifetimes of DNS answers in a Cache. The standard library's resolver does not report
// record TTLs, so answers are kept for a fixed time shorter than the TTLs SPF, DKIM and DMARC
// records are commonly published with; a changed record is seen within CachePositiveTTL.
const (
	CachePositiveTTL = time.Minute      // an answer with records
	CacheNegativeTTL = time.Minute      // the name or the record does not exist (RFC 2308)
	CacheFailureTTL  = 5 * time.Second  // SERVFAIL, timeouts: retried soon (RFC 2308 §7)
	cacheMaxEntries  = 8192             // then expired and arbitrary entries are dropped
	cacheLookupLimit = 20 * time.Second // one shared lookup, whoever waits for it
)

// Cache is a Resolver that remembers answers for a short time and shares one lookup among
// concurrent callers asking the same question. Mail from one domain arriving on many
// sessions at once then costs one SPF, DKIM and DMARC lookup per minute instead of one per
// message. A lookup runs with a deadline of its own, so one caller giving up does not fail the
// others; each caller still stops waiting when its own context ends.
type Cache struct {
	r   Resolver
	now func() time.Time

	mu sync.Mutex
	m  map[cacheKey]*cacheEntry
}

type cacheKey struct {
	kind byte // 't' TXT, 'm' MX, 'p' PTR, 'i' IP (network in name)
	name string
}

type cacheEntry struct {
	ready   chan struct{} // closed when val and err are set
	val     any
	err     error
	expires time.Time
}

// NewCache returns a Cache in front of r. now is the clock; nil means time.Now.
func NewCache(r Resolver, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{r: r, now: now, m: map[cacheKey]*cacheEntry{}}
}

// LookupTXT implements Resolver.
func (c *Cache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	v, err := c.lookup(ctx, cacheKey{'t', name}, func(ctx context.Context) (any, error) {
		return c.r.LookupTXT(ctx, name)
	})
	txts, _ := v.([]string)
	return slices.Clone(txts), err
}

// LookupMX implements Resolver.
func (c *Cache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, err := c.lookup(ctx, cacheKey{'m', name}, func(ctx context.Context) (any, error) {
		return c.r.LookupMX(ctx, name)
	})
	mxs, _ := v.([]*net.MX)
	out := make([]*net.MX, len(mxs))
	for i, mx := range mxs {
		cp := *mx
		out[i] = &cp
	}
	return out, err
}

// LookupAddr implements Resolver.
func (c *Cache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	v, err := c.lookup(ctx, cacheKey{'p', addr}, func(ctx context.Context) (any, error) {
		return c.r.LookupAddr(ctx, addr)
	})
	names, _ := v.([]string)
	return slices.Clone(names), err
}

// LookupIP implements Resolver.
func (c *Cache) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	v, err := c.lookup(ctx, cacheKey{'i', network + " " + host}, func(ctx context.Context) (any, error) {
		return c.r.LookupIP(ctx, network, host)
	})
	ips, _ := v.([]net.IP)
	out := make([]net.IP, len(ips))
	for i, ip := range ips {
		out[i] = slices.Clone(ip)
	}
	return out, err
}

func (c *Cache) lookup(ctx context.Context, k cacheKey, fn func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	e, ok := c.m[k]
	if ok {
		select {
		case <-e.ready:
			if c.now().After(e.expires) {
				ok = false
			}
		default: // in flight: wait for it below
		}
	}
	if !ok {
		c.trimLocked()
		e = &cacheEntry{ready: make(chan struct{})}
		c.m[k] = e
		go c.fill(k, e, fn)
	}
	c.mu.Unlock()
	// A caller whose context has ended gets its own error, even if the answer is there:
	// otherwise the select below would choose between the two at random.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-e.ready:
		return e.val, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fill runs one lookup for every caller waiting on e.
func (c *Cache) fill(k cacheKey, e *cacheEntry, fn func(context.Context) (any, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), cacheLookupLimit)
	defer cancel()
	val, err := fn(ctx)
	ttl := CachePositiveTTL
	var dnsErr *net.DNSError
	switch {
	case err == nil:
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		ttl = CacheNegativeTTL
	default:
		ttl = CacheFailureTTL
	}
	c.mu.Lock()
	e.val, e.err, e.expires = val, err, c.now().Add(ttl)
	c.mu.Unlock()
	close(e.ready)
}

// trimLocked keeps the cache below cacheMaxEntries: expired answers go first, then any.
func (c *Cache) trimLocked() {
	if len(c.m) < cacheMaxEntries {
		return
	}
	now := c.now()
	for k, e := range c.m {
		select {
		case <-e.ready:
			if now.After(e.expires) {
				delete(c.m, k)
			}
		default:
		}
	}
	for k := range c.m {
		if len(c.m) < cacheMaxEntries*3/4 {
			break
		}
		delete(c.m, k)
	}
}
