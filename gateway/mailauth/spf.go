package mailauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
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

// RFC 7208 §4.6.4 limits, and a bound of our own on explanation text.
const (
	maxDNSMechanisms = 10
	maxVoidLookups   = 2
	maxMXAddresses   = 10
	maxExplanation   = 512
)

// SPFQuery is one SPF check (RFC 7208 check_host) of a client.
type SPFQuery struct {
	IP       netip.Addr
	Helo     string
	MailFrom string // "" (the null sender) checks postmaster@Helo
	// Receiver is this host's name, for the %{r} macro of explanations; "" is "unknown".
	Receiver string
	// Now is the clock of the %{t} macro; nil is time.Now.
	Now func() time.Time
}

// SPFOutcome is the result of an SPF check.
type SPFOutcome struct {
	Result SPFResult
	Reason string // what decided it, for logs
	// Explanation is the text the domain's exp= modifier gives for a fail (RFC 7208 §6.2),
	// macros expanded; "" when it gives none or it could not be had. It comes from the
	// sender's domain: show it, quoted, never trust it.
	Explanation string
}

type spfCheck struct {
	ctx     context.Context
	res     Resolver
	q       SPFQuery
	ip      netip.Addr
	sender  string // local@domain of the MAIL FROM, or postmaster@helo
	lookups int
	voids   int
	ptr     map[string]string // %{p} by domain, computed once
}

var errSPFPerm = errors.New("spf permerror")

type spfTempError struct{ err error }

func (e spfTempError) Error() string { return "spf temperror: " + e.err.Error() }

// CheckSPF evaluates the SPF policy of the sender's domain for a client (RFC 7208 check_host).
// mailFrom "" (the null sender) checks postmaster@helo.
func CheckSPF(ctx context.Context, res Resolver, ip netip.Addr, helo, mailFrom string) (SPFResult, string) {
	o := SPFQuery{IP: ip, Helo: helo, MailFrom: mailFrom}.Check(ctx, res)
	return o.Result, o.Reason
}

// Check runs the query: the record is parsed whole before it is evaluated (§4.6), so a
// syntax error anywhere in it is a permerror whatever term would have decided.
func (q SPFQuery) Check(ctx context.Context, res Resolver) SPFOutcome {
	sender := q.MailFrom
	if sender == "" {
		sender = "postmaster@" + q.Helo
	}
	at := strings.LastIndexByte(sender, '@')
	if at < 0 {
		sender = "postmaster@" + sender
		at = strings.LastIndexByte(sender, '@')
	}
	if at == 0 { // §4.3: no local-part
		sender = "postmaster" + sender
		at = len("postmaster")
	}
	domain := strings.TrimSuffix(strings.ToLower(sender[at+1:]), ".")
	if !validSPFDomain(domain) {
		return SPFOutcome{Result: SPFNone, Reason: "sender domain is not a DNS name"}
	}
	if q.Now == nil {
		q.Now = time.Now
	}
	c := &spfCheck{ctx: ctx, res: res, q: q, ip: q.IP.Unmap(), sender: sender, ptr: map[string]string{}}
	return c.checkHost(domain, 0)
}

// validSPFDomain: a multi-label name whose labels are 1 to 63 bytes of letters, digits,
// hyphens, underscores or UTF-8 (§4.3).
func validSPFDomain(d string) bool {
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return false
			}
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
		if len(t) >= 6 && strings.EqualFold(t[:6], "v=spf1") && (len(t) == 6 || t[6] == ' ') {
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

func (c *spfCheck) checkHost(domain string, depth int) SPFOutcome {
	if depth > maxDNSMechanisms {
		return SPFOutcome{Result: SPFPermError, Reason: "include/redirect loop"}
	}
	text, r, why := c.record(domain)
	if r != "" {
		return SPFOutcome{Result: r, Reason: why}
	}
	rec, err := parseSPF(text)
	if err != nil {
		return SPFOutcome{Result: SPFPermError, Reason: err.Error()}
	}
	for _, m := range rec.mechanisms {
		match, err := c.mechanism(domain, m, depth)
		var te spfTempError
		switch {
		case errors.As(err, &te):
			return SPFOutcome{Result: SPFTempError, Reason: err.Error()}
		case err != nil:
			return SPFOutcome{Result: SPFPermError, Reason: err.Error()}
		case match:
			o := SPFOutcome{Result: m.qual, Reason: fmt.Sprintf("matched %q of %s", m.text, domain)}
			if o.Result == SPFFail && rec.hasExp {
				o.Explanation = c.explanation(rec.exp, domain)
			}
			return o
		}
	}
	if rec.hasRedirect {
		if err := c.countLookup(); err != nil {
			return SPFOutcome{Result: SPFPermError, Reason: err.Error()}
		}
		target, err := c.expandDomain(rec.redirect, domain)
		if err != nil {
			return SPFOutcome{Result: SPFPermError, Reason: err.Error()}
		}
		if !validSPFDomain(target) {
			return SPFOutcome{Result: SPFPermError, Reason: "redirect to a malformed domain"}
		}
		// §6.1: the target's result, with its own explanation; ours is not used.
		o := c.checkHost(target, depth+1)
		if o.Result == SPFNone {
			return SPFOutcome{Result: SPFPermError, Reason: "redirect to a domain without SPF record"}
		}
		return o
	}
	return SPFOutcome{Result: SPFNeutral, Reason: "no mechanism matched"}
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

// target expands a mechanism's domain-spec; the current domain when it has none.
func (c *spfCheck) target(m spfMechanism, domain string) (string, error) {
	if m.domain == "" {
		return domain, nil
	}
	return c.expandDomain(m.domain, domain)
}

func (c *spfCheck) mechanism(domain string, m spfMechanism, depth int) (bool, error) {
	switch m.name {
	case "all":
		return true, nil
	case "ip4", "ip6":
		return m.prefix.Contains(c.ip), nil
	}
	if err := c.countLookup(); err != nil {
		return false, err
	}
	target, err := c.target(m, domain)
	if err != nil {
		return false, err
	}
	switch m.name {
	case "a":
		return c.matchHost(target, m.cidr4, m.cidr6)
	case "mx":
		mxs, err := c.res.LookupMX(c.ctx, target)
		if err != nil && len(mxs) == 0 && !isNotFound(err) {
			return false, spfTempError{err}
		}
		if len(mxs) == 0 {
			return false, c.void()
		}
		if len(mxs) > maxMXAddresses {
			return false, fmt.Errorf("%w: more than %d MX records", errSPFPerm, maxMXAddresses)
		}
		for _, mx := range mxs {
			host := strings.TrimSuffix(mx.Host, ".")
			if host == "" { // a null MX (RFC 7505) names no host
				continue
			}
			ok, err := c.matchHost(host, m.cidr4, m.cidr6)
			if ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case "ptr":
		for _, n := range c.validatedNames(target) {
			if n == target || strings.HasSuffix(n, "."+target) {
				return true, nil
			}
		}
		return false, nil
	case "include":
		o := c.checkHost(target, depth+1)
		switch o.Result {
		case SPFPass:
			return true, nil
		case SPFFail, SPFSoftFail, SPFNeutral:
			return false, nil
		case SPFTempError:
			return false, spfTempError{errors.New(o.Reason)}
		}
		return false, fmt.Errorf("%w: include:%s gave %s", errSPFPerm, target, o.Result)
	case "exists":
		ips, err := c.res.LookupIP(c.ctx, "ip4", target)
		if err != nil && !isNotFound(err) {
			return false, spfTempError{err}
		}
		if len(ips) == 0 {
			return false, c.void()
		}
		return true, nil
	}
	return false, fmt.Errorf("%w: unknown mechanism %q", errSPFPerm, m.name)
}

func (c *spfCheck) addrs(host string) ([]net.IP, error) {
	network := "ip4"
	if c.ip.Is6() {
		network = "ip6"
	}
	return c.res.LookupIP(c.ctx, network, host)
}

func (c *spfCheck) matchHost(host string, cidr4, cidr6 int) (bool, error) {
	ips, err := c.addrs(host)
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

// validatedNames are the client's PTR names whose own addresses include the client (§5.5),
// at most 10 of them tried; DNS errors only leave names out.
func (c *spfCheck) validatedNames(domain string) []string {
	names, _ := c.res.LookupAddr(c.ctx, c.ip.String())
	var out []string
	for i, n := range names {
		if i >= maxMXAddresses {
			break
		}
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		ips, err := c.addrs(n)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == c.ip {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// validatedName is %{p} (§7.3): the domain itself if validated, else a validated subdomain
// of it, else any validated name, else "unknown".
func (c *spfCheck) validatedName(domain string) string {
	if p, ok := c.ptr[domain]; ok {
		return p
	}
	p := "unknown"
	names := c.validatedNames(domain)
	for _, n := range names {
		if n == domain {
			p = n
			break
		}
		if strings.HasSuffix(n, "."+domain) && (p == "unknown" || !strings.HasSuffix(p, "."+domain)) {
			p = n
		} else if p == "unknown" {
			p = n
		}
	}
	c.ptr[domain] = p
	return p
}

// explanation is the exp= text for a fail (§6.2); any problem means none.
func (c *spfCheck) explanation(spec, domain string) string {
	target, err := c.expandDomain(spec, domain)
	if err != nil || !validSPFDomain(target) {
		return ""
	}
	txts, err := c.res.LookupTXT(c.ctx, target)
	if err != nil || len(txts) != 1 {
		return ""
	}
	exp, err := c.expand(txts[0], domain, macroExplain)
	if err != nil || len(exp) > maxExplanation {
		return ""
	}
	return exp
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// expandDomain expands a domain-spec into the name to look up (§7.3: lower case, left-hand
// labels dropped to fit 253 bytes).
func (c *spfCheck) expandDomain(spec, domain string) (string, error) {
	out, err := c.expand(spec, domain, macroDomain)
	if err != nil {
		return "", err
	}
	out = strings.TrimSuffix(out, ".")
	for len(out) > 253 {
		i := strings.IndexByte(out, '.')
		if i < 0 {
			break
		}
		out = out[i+1:]
	}
	return strings.ToLower(out), nil
}

// macroValue is the value of one macro letter (lower case).
func (c *spfCheck) macroValue(letter byte, domain string) string {
	local, senderDomain, _ := strings.Cut(c.sender, "@")
	if at := strings.LastIndexByte(c.sender, '@'); at >= 0 {
		local, senderDomain = c.sender[:at], c.sender[at+1:]
	}
	switch letter {
	case 's':
		return c.sender
	case 'l':
		return local
	case 'o':
		return senderDomain
	case 'd':
		return domain
	case 'i':
		if c.ip.Is4() {
			return c.ip.String()
		}
		// Nibbles in upper case, as the RFC 7208 test suite's explanations expect; names
		// looked up are lowercased by expandDomain.
		hex := fmt.Sprintf("%X", c.ip.AsSlice())
		return strings.Join(strings.Split(hex, ""), ".")
	case 'p':
		return c.validatedName(domain)
	case 'v':
		if c.ip.Is6() {
			return "ip6"
		}
		return "in-addr"
	case 'h':
		return c.q.Helo
	case 'c':
		return c.ip.String()
	case 'r':
		if c.q.Receiver != "" {
			return c.q.Receiver
		}
		return "unknown"
	case 't':
		return strconv.FormatInt(c.q.Now().Unix(), 10)
	}
	return ""
}

// expand applies the macros (§7) of a checked macro-string.
func (c *spfCheck) expand(spec, domain string, kind macroKind) (string, error) {
	var b strings.Builder
	err := scanMacros(spec, kind, func(lit string) { b.WriteString(lit) }, func(m macro) {
		val := c.macroValue(m.letter, domain)
		parts := strings.FieldsFunc(val, func(r rune) bool { return strings.ContainsRune(m.delims, r) })
		if m.reverse {
			for l, r := 0, len(parts)-1; l < r; l, r = l+1, r-1 {
				parts[l], parts[r] = parts[r], parts[l]
			}
		}
		if m.digits > 0 && m.digits < len(parts) {
			parts = parts[len(parts)-m.digits:]
		}
		val = strings.Join(parts, ".")
		if m.upper {
			val = urlEscape(val)
		}
		b.WriteString(val)
	})
	return b.String(), err
}

// urlEscape escapes every byte outside the URI unreserved set (§7.3).
func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("-._~", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}
