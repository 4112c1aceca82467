package mailauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// SPFResult is an RFC 7208 §2.6 result.
type SPFResult string

// SPF results.
const (
	SPFNone      SPFResult = "none"
	SPFNeutral   SPFResult = "neutral"
	SPFPass      SPFResult = "pass"
	SPFFail      SPFResult = "fail"
	SPFSoftFail  SPFResult = "softfail"
	SPFTempError SPFResult = "temperror"
	SPFPermError SPFResult = "permerror"
)

// Resolver is the DNS the checks use; *net.Resolver implements it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// RFC 7208 §4.6.4 limits.
const (
	maxDNSMechanisms = 10
	maxVoidLookups   = 2
	maxMXAddresses   = 10
)

type spfCheck struct {
	ctx     context.Context
	res     Resolver
	ip      netip.Addr
	sender  string // local@domain of the MAIL FROM, or postmaster@helo
	helo    string
	lookups int
	voids   int
}

var errSPFPerm = errors.New("spf permerror")

type spfTempError struct{ err error }

func (e spfTempError) Error() string { return "spf temperror: " + e.err.Error() }

// CheckSPF evaluates the SPF policy of the sender's domain for a client (RFC 7208 check_host).
// mailFrom "" (the null sender) checks postmaster@helo.
func CheckSPF(ctx context.Context, res Resolver, ip netip.Addr, helo, mailFrom string) (SPFResult, string) {
	sender := mailFrom
	if sender == "" {
		sender = "postmaster@" + helo
	}
	at := strings.LastIndexByte(sender, '@')
	if at < 0 {
		sender = "postmaster@" + sender
		at = strings.LastIndexByte(sender, '@')
	}
	domain := strings.TrimSuffix(strings.ToLower(sender[at+1:]), ".")
	if !validSPFDomain(domain) {
		return SPFNone, "sender domain is not a DNS name"
	}
	c := &spfCheck{ctx: ctx, res: res, ip: ip.Unmap(), sender: sender, helo: helo}
	r, why := c.checkHost(domain, 0)
	return r, why
}

func validSPFDomain(d string) bool {
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

func (c *spfCheck) record(domain string) (string, SPFResult, string) {
	txts, err := c.res.LookupTXT(c.ctx, domain)
	if err != nil {
		if isNotFound(err) {
			return "", SPFNone, "no SPF record"
		}
		return "", SPFTempError, "DNS error looking up SPF record"
	}
	var recs []string
	for _, t := range txts {
		if strings.EqualFold(t, "v=spf1") || strings.HasPrefix(strings.ToLower(t), "v=spf1 ") {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return "", SPFNone, "no SPF record"
	case 1:
		return recs[0], "", ""
	}
	return "", SPFPermError, "more than one SPF record"
}

func (c *spfCheck) checkHost(domain string, depth int) (SPFResult, string) {
	if depth > maxDNSMechanisms {
		return SPFPermError, "include/redirect loop"
	}
	rec, r, why := c.record(domain)
	if r != "" {
		return r, why
	}
	terms := strings.Fields(rec)[1:]
	var redirect string
	for _, term := range terms {
		if k, v, ok := strings.Cut(term, "="); ok && !strings.ContainsAny(k, ":/") {
			switch strings.ToLower(k) {
			case "redirect":
				if redirect != "" {
					return SPFPermError, "two redirect modifiers"
				}
				redirect = v
			case "exp":
			default:
				if !validModifierName(k) {
					return SPFPermError, "malformed term " + term
				}
			}
			continue
		}
		qual := SPFPass
		switch term[0] {
		case '+':
			term = term[1:]
		case '-':
			qual, term = SPFFail, term[1:]
		case '~':
			qual, term = SPFSoftFail, term[1:]
		case '?':
			qual, term = SPFNeutral, term[1:]
		}
		match, err := c.mechanism(domain, term, depth)
		var te spfTempError
		switch {
		case errors.As(err, &te):
			return SPFTempError, err.Error()
		case err != nil:
			return SPFPermError, err.Error()
		case match:
			return qual, fmt.Sprintf("matched %q of %s", term, domain)
		}
	}
	if redirect != "" {
		target, err := c.expand(redirect, domain)
		if err != nil {
			return SPFPermError, err.Error()
		}
		if err := c.countLookup(); err != nil {
			return SPFPermError, err.Error()
		}
		r, why := c.checkHost(target, depth+1)
		if r == SPFNone {
			return SPFPermError, "redirect to a domain without SPF record"
		}
		return r, why
	}
	return SPFNeutral, "no mechanism matched"
}

func validModifierName(k string) bool {
	if k == "" || !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func (c *spfCheck) countLookup() error {
	c.lookups++
	if c.lookups > maxDNSMechanisms {
		return fmt.Errorf("%w: more than %d DNS-querying terms", errSPFPerm, maxDNSMechanisms)
	}
	return nil
}

// void counts a lookup that found nothing (RFC 7208 §4.6.4).
func (c *spfCheck) void() error {
	c.voids++
	if c.voids > maxVoidLookups {
		return fmt.Errorf("%w: more than %d void lookups", errSPFPerm, maxVoidLookups)
	}
	return nil
}

func (c *spfCheck) mechanism(domain, term string, depth int) (bool, error) {
	name, arg, hasArg := strings.Cut(term, ":")
	name = strings.ToLower(name)
	cidr4, cidr6 := 32, 128
	parseCIDR := func(s string) (string, error) {
		// "domain/24//64", "/24", "//64"
		if i := strings.Index(s, "//"); i >= 0 {
			n, err := strconv.Atoi(s[i+2:])
			if err != nil || n < 0 || n > 128 {
				return "", fmt.Errorf("%w: bad ip6 cidr in %q", errSPFPerm, term)
			}
			cidr6, s = n, s[:i]
		}
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			n, err := strconv.Atoi(s[i+1:])
			if err != nil || n < 0 || n > 32 {
				return "", fmt.Errorf("%w: bad ip4 cidr in %q", errSPFPerm, term)
			}
			cidr4, s = n, s[:i]
		}
		return s, nil
	}
	if !hasArg && (name != "all") {
		// a/24, mx//64 without a domain
		if i := strings.IndexByte(name, '/'); i >= 0 {
			rest := name[i:]
			name = name[:i]
			if _, err := parseCIDR(rest); err != nil {
				return false, err
			}
		}
	}
	target := domain
	if hasArg && name != "ip4" && name != "ip6" {
		spec, err := parseCIDR(arg)
		if err != nil {
			return false, err
		}
		if target, err = c.expand(spec, domain); err != nil {
			return false, err
		}
	}
	switch name {
	case "all":
		if hasArg {
			return false, fmt.Errorf("%w: all takes no argument", errSPFPerm)
		}
		return true, nil
	case "ip4", "ip6":
		p, err := netip.ParsePrefix(arg)
		if err != nil {
			a, err2 := netip.ParseAddr(arg)
			if err2 != nil || (name == "ip4") != a.Is4() {
				return false, fmt.Errorf("%w: bad %s %q", errSPFPerm, name, arg)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if (name == "ip4") != p.Addr().Is4() {
			return false, fmt.Errorf("%w: bad %s %q", errSPFPerm, name, arg)
		}
		return p.Contains(c.ip), nil
	case "a":
		if err := c.countLookup(); err != nil {
			return false, err
		}
		return c.matchHost(target, cidr4, cidr6)
	case "mx":
		if err := c.countLookup(); err != nil {
			return false, err
		}
		mxs, err := c.res.LookupMX(c.ctx, target)
		if err != nil && !isNotFound(err) {
			return false, spfTempError{err}
		}
		if len(mxs) == 0 {
			return false, c.void()
		}
		if len(mxs) > maxMXAddresses {
			return false, fmt.Errorf("%w: more than %d MX records", errSPFPerm, maxMXAddresses)
		}
		for _, mx := range mxs {
			ok, err := c.matchHost(strings.TrimSuffix(mx.Host, "."), cidr4, cidr6)
			if ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case "ptr":
		if err := c.countLookup(); err != nil {
			return false, err
		}
		names, err := c.res.LookupAddr(c.ctx, c.ip.String())
		if err != nil && !isNotFound(err) {
			return false, nil // a PTR failure is no match (RFC 7208 §5.5)
		}
		for i, n := range names {
			if i >= maxMXAddresses {
				break
			}
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			if n != target && !strings.HasSuffix(n, "."+target) {
				continue
			}
			if ok, _ := c.matchHost(n, 32, 128); ok {
				return true, nil
			}
		}
		return false, nil
	case "include":
		if !hasArg {
			return false, fmt.Errorf("%w: include needs a domain", errSPFPerm)
		}
		if err := c.countLookup(); err != nil {
			return false, err
		}
		r, why := c.checkHost(target, depth+1)
		switch r {
		case SPFPass:
			return true, nil
		case SPFFail, SPFSoftFail, SPFNeutral:
			return false, nil
		case SPFTempError:
			return false, spfTempError{errors.New(why)}
		}
		return false, fmt.Errorf("%w: include:%s gave %s", errSPFPerm, target, r)
	case "exists":
		if !hasArg {
			return false, fmt.Errorf("%w: exists needs a domain", errSPFPerm)
		}
		if err := c.countLookup(); err != nil {
			return false, err
		}
		ips, err := c.res.LookupIP(c.ctx, "ip4", target)
		if err != nil && !isNotFound(err) {
			return false, spfTempError{err}
		}
		if len(ips) == 0 {
			return false, c.void()
		}
		return true, nil
	}
	return false, fmt.Errorf("%w: unknown mechanism %q", errSPFPerm, name)
}

func (c *spfCheck) matchHost(host string, cidr4, cidr6 int) (bool, error) {
	network := "ip4"
	if c.ip.Is6() {
		network = "ip6"
	}
	ips, err := c.res.LookupIP(c.ctx, network, host)
	if err != nil && !isNotFound(err) {
		return false, spfTempError{err}
	}
	if len(ips) == 0 {
		return false, c.void()
	}
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		a = a.Unmap()
		bits := cidr4
		if a.Is6() {
			bits = cidr6
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(c.ip) {
			return true, nil
		}
	}
	return false, nil
}

// expand applies SPF macros (RFC 7208 §7) to a domain-spec.
func (c *spfCheck) expand(spec, domain string) (string, error) {
	var b strings.Builder
	local, senderDomain, _ := strings.Cut(c.sender, "@")
	for i := 0; i < len(spec); i++ {
		ch := spec[i]
		if ch != '%' {
			b.WriteByte(ch)
			continue
		}
		if i+1 >= len(spec) {
			return "", fmt.Errorf("%w: bad macro in %q", errSPFPerm, spec)
		}
		i++
		switch spec[i] {
		case '%':
			b.WriteByte('%')
			continue
		case '_':
			b.WriteByte(' ')
			continue
		case '-':
			b.WriteString("%20")
			continue
		case '{':
		default:
			return "", fmt.Errorf("%w: bad macro in %q", errSPFPerm, spec)
		}
		end := strings.IndexByte(spec[i:], '}')
		if end < 2 {
			return "", fmt.Errorf("%w: bad macro in %q", errSPFPerm, spec)
		}
		body := spec[i+1 : i+end]
		i += end
		letter, rest := strings.ToLower(body[:1]), body[1:]
		var val string
		switch letter {
		case "s":
			val = c.sender
		case "l":
			val = local
		case "o":
			val = senderDomain
		case "d":
			val = domain
		case "i":
			if c.ip.Is4() {
				val = c.ip.String()
			} else {
				hex := fmt.Sprintf("%x", c.ip.AsSlice())
				val = strings.Join(strings.Split(hex, ""), ".")
			}
		case "p":
			val = "unknown"
		case "v":
			val = "in-addr"
			if c.ip.Is6() {
				val = "ip6"
			}
		case "h":
			val = c.helo
		default:
			return "", fmt.Errorf("%w: unknown macro letter in %q", errSPFPerm, spec)
		}
		digits := 0
		for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			digits = digits*10 + int(rest[0]-'0')
			rest = rest[1:]
		}
		reverse := false
		if len(rest) > 0 && (rest[0] == 'r' || rest[0] == 'R') {
			reverse, rest = true, rest[1:]
		}
		delims := rest
		if delims == "" {
			delims = "."
		}
		parts := strings.FieldsFunc(val, func(r rune) bool { return strings.ContainsRune(delims, r) })
		if reverse {
			for l, r := 0, len(parts)-1; l < r; l, r = l+1, r-1 {
				parts[l], parts[r] = parts[r], parts[l]
			}
		}
		if digits > 0 && digits < len(parts) {
			parts = parts[len(parts)-digits:]
		}
		b.WriteString(strings.Join(parts, "."))
	}
	out := strings.TrimSuffix(b.String(), ".")
	for len(out) > 253 { // RFC 7208 §7.3: drop left-hand labels
		i := strings.IndexByte(out, '.')
		if i < 0 {
			break
		}
		out = out[i+1:]
	}
	return strings.ToLower(out), nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
