package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sealgate/sealgate/gateway/dane"
)

// Resolver answers the DNS questions of delivery. *net.Resolver implements it; tests use one
// that answers from a map.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// TLSPolicy says how a hop is secured.
type TLSPolicy int

// TLS policies, weakest first.
const (
	// TLSOpportunistic uses STARTTLS when the peer offers it, accepts any certificate (RFC
	// 7435), and falls back to plain SMTP when STARTTLS is not offered or its handshake fails.
	TLSOpportunistic TLSPolicy = iota
	// TLSRequired insists on STARTTLS but accepts any certificate.
	TLSRequired
	// TLSVerify insists on STARTTLS with a certificate valid for the hop's host name.
	TLSVerify
	// TLSNone never starts TLS.
	TLSNone
)

// ParseTLSPolicy parses "opportunistic", "required", "verify" or "none" ("" is opportunistic).
func ParseTLSPolicy(s string) (TLSPolicy, error) {
	switch strings.ToLower(s) {
	case "", "opportunistic":
		return TLSOpportunistic, nil
	case "required":
		return TLSRequired, nil
	case "verify":
		return TLSVerify, nil
	case "none":
		return TLSNone, nil
	}
	return 0, fmt.Errorf("delivery: unknown TLS policy %q (want opportunistic, required, verify or none)", s)
}

func (p TLSPolicy) String() string {
	return [...]string{"opportunistic", "required", "verify", "none"}[p]
}

// Route is a configured next hop for a domain (or the smarthost).
type Route struct {
	Addr string    // "host:port"
	TLS  TLSPolicy // how the hop is secured
	Auth *Auth     // credentials for AUTH PLAIN; sent only over TLS
}

// Auth is a username and password for AUTH PLAIN at a smarthost.
type Auth struct {
	Username string
	Password string
}

// hop is one server to try: its name (for TLS verification and DSNs) and its addresses.
type hop struct {
	host  string
	addrs []string // "ip:port", tried in order
	tls   TLSPolicy
	auth  *Auth
	// stsTesting: the domain's MTA-STS policy is in testing mode; what enforce would refuse
	// is logged.
	stsTesting bool
	// dane are the host's authenticated TLSA records (RFC 7672); the certificate must match
	// them.
	dane []dane.TLSA
	// domain, policyType and policyStrings describe an MX hop for TLS reports (RFC 8460);
	// policyType is "" for a route or the smarthost, which are not reported.
	domain        string
	policyType    string
	policyStrings []string
}

// errNotFound marks a destination that does not exist (permanent failure).
var errNotFound = errors.New("domain not found")

// errNullMX marks a domain that accepts no mail (RFC 7505).
var errNullMX = errors.New("domain accepts no mail (null MX)")

// hops returns the servers to try for domain, best first: its route, else the smarthost, else
// its MX hosts by preference, else its own address records (the implicit MX of RFC 5321
// §5.1). Errors wrap errNotFound or errNullMX when the failure is permanent.
func (c *Client) hops(ctx context.Context, domain string) ([]hop, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if r, ok := c.opts.Routes[domain]; ok {
		h, err := c.routeHop(ctx, r)
		return []hop{h}, err
	}
	if c.opts.Smarthost != nil {
		h, err := c.routeHop(ctx, *c.opts.Smarthost)
		return []hop{h}, err
	}
	policy := c.opts.TLS
	if p, ok := c.opts.DomainTLS[domain]; ok {
		policy = p
	}
	if ip, ok := addressLiteral(domain); ok {
		return []hop{{host: ip.String(), addrs: []string{net.JoinHostPort(ip.String(), c.port())}, tls: policy}}, nil
	}
	mxs, err := c.opts.Resolver.LookupMX(ctx, domain)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("MX lookup for %s: %w", domain, err)
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, errNullMX
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	var names []string
	for _, mx := range mxs {
		names = append(names, strings.TrimSuffix(mx.Host, "."))
	}
	if len(names) == 0 {
		names = []string{domain}
	}
	var out []hop
	var lastErr error
	for _, name := range names {
		addrs, err := c.lookupAddrs(ctx, name, c.port())
		if err != nil {
			lastErr = err
			continue
		}
		out = append(out, hop{host: name, addrs: addrs, tls: policy, domain: domain, policyType: PolicyNotFound})
	}
	if len(out) == 0 {
		if len(mxs) == 0 && isNotFound(lastErr) {
			return nil, fmt.Errorf("%s: %w", domain, errNotFound)
		}
		return nil, lastErr
	}
	if out, err = c.applyDANE(ctx, domain, out); err != nil {
		return nil, err
	}
	return c.applySTS(ctx, domain, out)
}

func (c *Client) routeHop(ctx context.Context, r Route) (hop, error) {
	host, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return hop{}, fmt.Errorf("route %q: %w", r.Addr, err)
	}
	addrs, err := c.lookupAddrs(ctx, host, port)
	return hop{host: host, addrs: addrs, tls: r.TLS, auth: r.Auth}, err
}

func (c *Client) lookupAddrs(ctx context.Context, host, port string) ([]string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{net.JoinHostPort(ip.String(), port)}, nil
	}
	ips, err := c.opts.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("address lookup for %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("address lookup for %s: %w", host, errNotFound)
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.IP.String(), port))
	}
	return out, nil
}

func (c *Client) port() string {
	if c.opts.Port == 0 {
		return "25"
	}
	return strconv.Itoa(c.opts.Port)
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.Is(err, errNotFound) || errors.As(err, &de) && de.IsNotFound
}

// addressLiteral parses a domain of the form "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func addressLiteral(d string) (netip.Addr, bool) {
	if !strings.HasPrefix(d, "[") || !strings.HasSuffix(d, "]") {
		return netip.Addr{}, false
	}
	s := strings.TrimPrefix(strings.TrimSuffix(d[1:], "]"), "ipv6:")
	ip, err := netip.ParseAddr(s)
	return ip, err == nil
}
