// Package mtasts is the sending side of SMTP MTA Strict Transport Security (RFC 8461): it
// finds a destination domain's policy — the "_mta-sts" TXT record's id, then the policy file
// from https://mta-sts.DOMAIN/.well-known/mta-sts.txt — and caches it for its max_age.
//
// Following RFC 8461 §5.1, a cached policy stays in force while it is fresh even when the TXT
// record disappears or the fetch fails (an attacker who blocks DNS or HTTPS cannot turn it
// off); a new id makes the policy fetched again. The policy file is bounded (64 KiB), fetched
// with a valid certificate for mta-sts.DOMAIN, without redirects, within 10 seconds.
package mtasts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Policy modes.
const (
	ModeEnforce = "enforce"
	ModeTesting = "testing"
	ModeNone    = "none"
)

// Bounds of RFC 8461.
const (
	maxPolicySize = 64 << 10
	maxMaxAge     = 31557600 * time.Second
	maxCached     = 10000
)

// Policy is a parsed policy file.
type Policy struct {
	ID     string // the TXT record's id it was fetched for
	Mode   string
	MX     []string // host names, "*.example.org" for any one label
	MaxAge time.Duration
}

// ErrInvalid marks a policy file or TXT record that does not follow RFC 8461.
var ErrInvalid = errors.New("mtasts: invalid policy")

// Parse reads a policy file (RFC 8461 §3.2): "key: value" lines ending in CRLF or LF.
// Unknown keys are ignored; version, mode and max_age are required, and mx unless mode is none.
func Parse(data []byte) (Policy, error) {
	if len(data) > maxPolicySize {
		return Policy{}, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, maxPolicySize)
	}
	var p Policy
	var version, maxAge string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPolicySize)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			version = v
		case "mode":
			p.Mode = v
		case "max_age":
			maxAge = v
		case "mx":
			if len(p.MX) < 100 {
				p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(v, ".")))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if version != "STSv1" {
		return Policy{}, fmt.Errorf("%w: version %q", ErrInvalid, version)
	}
	switch p.Mode {
	case ModeEnforce, ModeTesting:
		if len(p.MX) == 0 {
			return Policy{}, fmt.Errorf("%w: no mx", ErrInvalid)
		}
	case ModeNone:
	default:
		return Policy{}, fmt.Errorf("%w: mode %q", ErrInvalid, p.Mode)
	}
	n, err := strconv.ParseUint(maxAge, 10, 64)
	if err != nil || len(maxAge) > 10 {
		return Policy{}, fmt.Errorf("%w: max_age %q", ErrInvalid, maxAge)
	}
	p.MaxAge = time.Duration(min(n, uint64(maxMaxAge/time.Second))) * time.Second
	return p, nil
}

// MatchMX reports whether host is allowed by the policy: equal to an mx entry, or matched by
// a "*." entry in its leftmost label only (RFC 8461 §4.1).
func (p *Policy) MatchMX(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, mx := range p.MX {
		if suffix, ok := strings.CutPrefix(mx, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == suffix {
				return true
			}
		} else if host == mx {
			return true
		}
	}
	return false
}

// Text is the policy file of p (RFC 8461 §3.2), lines ending in CRLF; Parse reads it back.
func (p *Policy) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: STSv1\r\nmode: %s\r\n", p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\r\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", int64(p.MaxAge/time.Second))
	return b.String()
}

// TextID is an id for the "_mta-sts" TXT record that changes whenever Text does: 20
// hexadecimal digits of its SHA-256.
func (p *Policy) TextID() string {
	sum := sha256.Sum256([]byte(p.Text()))
	return hex.EncodeToString(sum[:10])
}

// ParseTXT returns the id of the one "v=STSv1" record among a name's TXT records (RFC 8461
// §3.1); several or none is no policy.
func ParseTXT(records []string) (string, bool) {
	var id string
	found := 0
	for _, r := range records {
		if !strings.HasPrefix(r, "v=STSv1;") && r != "v=STSv1" {
			continue
		}
		found++
		for _, f := range strings.Split(r, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if k == "id" {
				id = v
			}
		}
	}
	if found != 1 || id == "" || len(id) > 32 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return "", false
	}
	return id, true
}

// Options configure a Resolver.
type Options struct {
	// LookupTXT answers TXT questions (a *net.Resolver's method will do). Required.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// HTTP fetches policies; nil is a client with the system roots. Redirects are never
	// followed and a fetch takes at most 10 seconds either way.
	HTTP *http.Client
	// Now is the clock of the cache; nil is time.Now.
	Now func() time.Time
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// Resolver finds and caches policies. It is safe for concurrent use.
type Resolver struct {
	opts  Options
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	p       Policy
	expires time.Time
}

// New returns a Resolver.
func New(opts Options) *Resolver {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{}
	}
	hc := *opts.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("redirects are not followed (RFC 8461 §3.3)")
	}
	hc.Timeout = 10 * time.Second
	opts.HTTP = &hc
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Resolver{opts: opts, cache: map[string]cached{}}
}

// Lookup returns domain's policy in force, or nil when it has none. It does not fail: a
// failure to find a new policy leaves the cached one (if fresh) in force and is logged.
func (r *Resolver) Lookup(ctx context.Context, domain string) *Policy {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := r.opts.Now()
	r.mu.Lock()
	c, ok := r.cache[domain]
	r.mu.Unlock()
	fresh := ok && now.Before(c.expires)
	records, err := r.opts.LookupTXT(ctx, "_mta-sts."+domain)
	id, valid := ParseTXT(records)
	if err != nil || !valid {
		if fresh {
			return &c.p
		}
		return nil
	}
	if fresh && c.p.ID == id {
		return &c.p
	}
	p, err := r.fetch(ctx, domain)
	if err != nil {
		r.opts.Logger.Warn("MTA-STS policy not fetched", "domain", domain, "err", err, "cached", fresh)
		if fresh {
			return &c.p
		}
		return nil
	}
	p.ID = id
	r.mu.Lock()
	if len(r.cache) >= maxCached {
		for d, e := range r.cache {
			if !now.Before(e.expires) || len(r.cache) >= maxCached {
				delete(r.cache, d)
			}
		}
	}
	r.cache[domain] = cached{p: p, expires: now.Add(p.MaxAge)}
	r.mu.Unlock()
	return &p
}

// PolicyURL is where domain's policy is fetched.
func PolicyURL(domain string) string {
	return "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
}

func (r *Resolver) fetch(ctx context.Context, domain string) (Policy, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, PolicyURL(domain), nil)
	if err != nil {
		return Policy{}, err
	}
	resp, err := r.opts.HTTP.Do(req)
	if err != nil {
		return Policy{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Policy{}, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return Policy{}, fmt.Errorf("content type %q is not text/plain", resp.Header.Get("Content-Type"))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return Policy{}, err
	}
	return Parse(data)
}
