// Package callout checks recipients in relay domains (gateway mode) by asking the domain's
// next hop, the organisation's own mail server, whether it would take mail for them: an SMTP
// session with EHLO, MAIL FROM:<> and RCPT TO:<address>, then QUIT; no message is sent.
//
// The contract:
//   - Only a 5xx reply to RCPT makes an address unknown (NoSuchUser). A 4xx, a refused null
//     sender, a dropped or slow connection, an unreachable next hop: the answer is Unknown, and
//     the SMTP server accepts the recipient, so an outage of the internal server never refuses
//     mail (the queue holds it until the next hop is back).
//   - Every probe is bounded: Timeout for the whole session, at most MaxReply bytes read, at
//     most MaxConcurrent probes at once (a caller that cannot get a slot before its context or
//     Timeout ends gets Unknown), and one probe per address at a time (callers asking for the
//     same address while it runs share its answer).
//   - Answers are cached per address (case-folded): Exists for PositiveTTL, NoSuchUser for
//     NegativeTTL, Unknown for UnknownTTL, so a next hop that is down is not asked for every
//     RCPT. The cache holds at most MaxEntries; when full, expired entries go first, then
//     arbitrary ones.
//
// The probe uses no TLS: it carries only an address, on the internal leg.
package callout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
)

// Result is what the next hop said about an address.
type Result int

// Results.
const (
	// Unknown: the next hop could not be asked or gave no permanent answer; accept the address.
	Unknown Result = iota
	// Exists: the next hop accepts mail for the address.
	Exists
	// NoSuchUser: the next hop refused the address with 5xx.
	NoSuchUser
)

func (r Result) String() string {
	return [...]string{"unknown", "exists", "no such user"}[r]
}

// MaxReply bounds the bytes read from the next hop in one probe.
const MaxReply = 64 << 10

// Options configure a Checker. Zero values take the defaults in brackets.
type Options struct {
	// Hostname is the name given in EHLO. Required.
	Hostname string
	// NextHop returns the "host:port" of a relay domain's next hop. Required.
	NextHop func(domain string) (string, bool)
	// Timeout bounds one probe, connection included [15s].
	Timeout time.Duration
	// MaxConcurrent is the most probes running at once [8].
	MaxConcurrent int
	// PositiveTTL, NegativeTTL and UnknownTTL are how long answers are cached [1h, 10m, 1m].
	PositiveTTL, NegativeTTL, UnknownTTL time.Duration
	// MaxEntries bounds the cache [10000].
	MaxEntries int
	// Dial connects to the next hop [net.Dialer].
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the cache's clock [time.Now].
	Now    func() time.Time
	Logger *slog.Logger // nil: slog.Default()
}

// Checker asks next hops about recipients. It is safe for concurrent use.
type Checker struct {
	opts  Options
	slots chan struct{}

	mu       sync.Mutex
	cache    map[string]entry
	inflight map[string]*probe
}

type entry struct {
	result  Result
	expires time.Time
}

// probe is one running check; done closes when result is set.
type probe struct {
	done   chan struct{}
	result Result
}

// New returns a Checker.
func New(opts Options) (*Checker, error) {
	if opts.Hostname == "" || opts.NextHop == nil {
		return nil, errors.New("callout: Hostname and NextHop are required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 8
	}
	if opts.PositiveTTL <= 0 {
		opts.PositiveTTL = time.Hour
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = 10 * time.Minute
	}
	if opts.UnknownTTL <= 0 {
		opts.UnknownTTL = time.Minute
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.Dial == nil {
		d := &net.Dialer{}
		opts.Dial = d.DialContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Checker{
		opts:     opts,
		slots:    make(chan struct{}, opts.MaxConcurrent),
		cache:    map[string]entry{},
		inflight: map[string]*probe{},
	}, nil
}

// Check asks the next hop of rcpt's domain whether it takes mail for rcpt, or answers from
// the cache. A domain without a next hop is Unknown.
func (c *Checker) Check(ctx context.Context, rcpt address.Address) Result {
	key := rcpt.Key()
	c.mu.Lock()
	if e, ok := c.cache[key]; ok && c.opts.Now().Before(e.expires) {
		c.mu.Unlock()
		return e.result
	}
	p, running := c.inflight[key]
	if !running {
		p = &probe{done: make(chan struct{})}
		c.inflight[key] = p
	}
	c.mu.Unlock()
	if running {
		select {
		case <-p.done:
			return p.result
		case <-ctx.Done():
			return Unknown
		}
	}
	// The probe gets its own deadline, not the caller's: its answer is shared and cached.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	res := c.run(pctx, ctx, rcpt)
	c.mu.Lock()
	p.result = res
	close(p.done)
	delete(c.inflight, key)
	c.store(key, res)
	c.mu.Unlock()
	return res
}

// run takes a slot and probes. waitCtx is the first caller's context, which bounds only the
// wait for a slot.
func (c *Checker) run(ctx, waitCtx context.Context, rcpt address.Address) Result {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return Unknown
	case <-waitCtx.Done():
		return Unknown
	}
	hop, ok := c.opts.NextHop(rcpt.Domain)
	if !ok {
		return Unknown
	}
	res, err := c.probe(ctx, hop, rcpt)
	if err != nil {
		c.opts.Logger.Info("recipient callout gave no answer; address accepted", "next_hop", hop, "rcpt_domain", rcpt.Domain, "err", err)
	}
	return res
}

// store caches res for key; c.mu is held.
func (c *Checker) store(key string, res Result) {
	now := c.opts.Now()
	if len(c.cache) >= c.opts.MaxEntries {
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		for k := range c.cache {
			if len(c.cache) < c.opts.MaxEntries {
				break
			}
			delete(c.cache, k)
		}
	}
	ttl := c.opts.UnknownTTL
	switch res {
	case Exists:
		ttl = c.opts.PositiveTTL
	case NoSuchUser:
		ttl = c.opts.NegativeTTL
	}
	c.cache[key] = entry{result: res, expires: now.Add(ttl)}
}

// probe runs one SMTP session with hop. The error says why the answer is Unknown.
func (c *Checker) probe(ctx context.Context, hop string, rcpt address.Address) (Result, error) {
	conn, err := c.opts.Dial(ctx, "tcp", hop)
	if err != nil {
		return Unknown, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	tp := textproto.NewConn(struct {
		io.Reader
		io.WriteCloser
	}{bufio.NewReader(io.LimitReader(conn, MaxReply)), conn})

	if _, _, err := tp.ReadResponse(2); err != nil {
		return Unknown, fmt.Errorf("greeting: %w", err)
	}
	utf8 := false
	if err := tp.PrintfLine("EHLO %s", c.opts.Hostname); err != nil {
		return Unknown, err
	}
	_, msg, err := tp.ReadResponse(2)
	if err != nil {
		if err := tp.PrintfLine("HELO %s", c.opts.Hostname); err != nil {
			return Unknown, err
		}
		if _, _, err := tp.ReadResponse(2); err != nil {
			return Unknown, fmt.Errorf("HELO: %w", err)
		}
	} else {
		for _, line := range strings.Split(msg, "\n") {
			utf8 = utf8 || strings.EqualFold(strings.TrimSpace(line), "SMTPUTF8")
		}
	}
	mail := "MAIL FROM:<>"
	if !isASCII(rcpt.String()) {
		if !utf8 {
			return Unknown, errors.New("the next hop does not offer SMTPUTF8")
		}
		mail += " SMTPUTF8"
	}
	if err := tp.PrintfLine("%s", mail); err != nil {
		return Unknown, err
	}
	if _, _, err := tp.ReadResponse(2); err != nil {
		return Unknown, fmt.Errorf("MAIL FROM:<>: %w", err)
	}
	if err := tp.PrintfLine("RCPT TO:<%s>", rcpt); err != nil {
		return Unknown, err
	}
	code, _, err := tp.ReadResponse(2)
	var te *textproto.Error
	switch {
	case err == nil:
		tp.PrintfLine("QUIT")
		return Exists, nil
	case errors.As(err, &te) && te.Code >= 500 && te.Code < 600:
		tp.PrintfLine("QUIT")
		return NoSuchUser, nil
	}
	return Unknown, fmt.Errorf("RCPT: %d: %w", code, err)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
