package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Validate checks c and returns every problem found, in the order of the
// fields; nil means c can be used. It reads the TLS certificate and key
// files named in c. Domains are checked without regard to case.
func (c *Config) Validate() []Problem {
	var v validator
	v.name("hostname", c.Hostname)
	v.domains(c.Domains)
	v.listen(&c.Listen)
	v.tls(&c.TLS)
	v.web(c)
	v.limits(&c.Limits)
	v.relay(c)
	v.outbound(&c.Outbound)
	v.storage(&c.Storage)
	v.queue(&c.Queue)
	if sep := c.Addressing.SubaddressSeparator; sep != "" && (len(sep) != 1 || !strings.Contains("+-=_.", sep)) {
		v.add("addressing.subaddress_separator", "%q is not one of + - = _ .", sep)
	}
	if pm := c.Addressing.Postmaster; pm != "" {
		at := strings.LastIndexByte(pm, '@')
		if at <= 0 || !c.IsLocalDomain(pm[at+1:]) {
			v.add("addressing.postmaster", "%q is not an address in a local domain", pm)
		}
	}
	if c.DNS.Resolver != "" {
		v.hostPort("dns.resolver", c.DNS.Resolver, 1, false)
	}
	for i, d := range c.MailAuth.DMARCExempt {
		if why := dnsNameProblem(d); why != "" {
			v.add(fmt.Sprintf("mailauth.dmarc_exempt[%d]", i), "%q is not a valid domain: %s", d, why)
		}
	}
	v.log(&c.Log)
	return v.probs
}

type validator struct{ probs []Problem }

func (v *validator) add(key, format string, args ...any) {
	v.probs = append(v.probs, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// name checks that s is a DNS name.
func (v *validator) name(key, s string) {
	if why := dnsNameProblem(s); why != "" {
		v.add(key, "%q is not a valid DNS name: %s", s, why)
	}
}

// dnsNameProblem says why s is not a DNS host or domain name (RFC 1035
// letters, digits and hyphens, RFC 1123 leading digits), or returns "".
func dnsNameProblem(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > 253:
		return "longer than 253 characters"
	case strings.HasSuffix(s, "."):
		return "trailing dot"
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "an IP address"
	}
	for _, label := range strings.Split(s, ".") {
		switch {
		case label == "":
			return "empty label"
		case len(label) > 63:
			return "label longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "label starts or ends with a hyphen"
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-') {
				if b >= 0x80 {
					return "not ASCII (write an internationalized name in its xn-- form)"
				}
				return fmt.Sprintf("character %q not allowed", b)
			}
		}
	}
	return ""
}

func (v *validator) domains(domains []string) {
	if len(domains) == 0 {
		v.add("domains", "at least one local domain is required")
	}
	seen := map[string]bool{}
	for _, d := range domains {
		v.name("domains", d)
		ld := strings.ToLower(d)
		if seen[ld] {
			v.add("domains", "%q is listed more than once", d)
		}
		seen[ld] = true
	}
}

// hostPort checks "host:port" with a numeric port of at least minPort. The
// host may be empty only if emptyHost; otherwise it is an IP address or a DNS
// name. It returns the host and port, or ok false after adding a problem.
func (v *validator) hostPort(key, addr string, minPort int, emptyHost bool) (host string, port int, ok bool) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(key, "%q is not host:port", addr)
		return "", 0, false
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || int(p) < minPort {
		v.add(key, "%q is not host:port: the port must be a number from %d to 65535", addr, minPort)
		return "", 0, false
	}
	if host == "" && !emptyHost {
		v.add(key, "%q is not host:port: the host is missing", addr)
		return "", 0, false
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			if why := dnsNameProblem(host); why != "" {
				v.add(key, "%q is not host:port: the host is neither an IP address nor a DNS name", addr)
				return "", 0, false
			}
		}
	}
	return host, int(p), true
}

func (v *validator) listen(l *Listen) {
	type bound struct{ key, host string }
	byPort := map[int][]bound{}
	for _, f := range []struct{ key, addr string }{
		{"listen.smtp", l.SMTP},
		{"listen.submission", l.Submission},
		{"listen.submissions", l.Submissions},
		{"listen.imap", l.IMAP},
		{"listen.imaps", l.IMAPS},
		{"listen.pop3", l.POP3},
		{"listen.pop3s", l.POP3S},
		{"listen.http", l.HTTP},
		{"listen.https", l.HTTPS},
		{"listen.metrics", l.Metrics},
	} {
		if f.addr == "" {
			continue
		}
		host, port, ok := v.hostPort(f.key, f.addr, 0, true)
		if !ok || port == 0 {
			continue
		}
		host = canonicalHost(host)
		for _, b := range byPort[port] {
			// A wildcard host takes the port on every address.
			if b.host == host || b.host == "" || host == "" {
				v.add(f.key, "%q conflicts with %s on port %d", f.addr, b.key, port)
				break
			}
		}
		byPort[port] = append(byPort[port], bound{f.key, host})
	}
}

// canonicalHost returns "" for a wildcard host and a comparable form of any
// other.
func canonicalHost(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() {
			return ""
		}
		return ip.Unmap().String()
	}
	return strings.ToLower(host)
}

func (v *validator) tls(t *TLS) {
	v.acme(t)
	switch {
	case t.Cert == "" && t.Key == "":
		return
	case t.Cert == "":
		v.add("tls.cert", "missing: tls.key is set, so tls.cert must be too")
		return
	case t.Key == "":
		v.add("tls.key", "missing: tls.cert is set, so tls.key must be too")
		return
	}
	ok := true
	for _, f := range []struct{ key, path string }{{"tls.cert", t.Cert}, {"tls.key", t.Key}} {
		if _, err := os.Stat(f.path); err != nil {
			v.add(f.key, "%v", err)
			ok = false
		}
	}
	if !ok {
		return
	}
	if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
		v.add("tls", "cannot use %q and %q as certificate and key: %v", t.Cert, t.Key, err)
	}
}

func (v *validator) limits(l *Limits) {
	if l.MaxMessageSize <= 0 {
		v.add("limits.max_message_size", "must be more than 0, not %s", l.MaxMessageSize)
	}
	if l.MailboxQuota < 0 {
		v.add("limits.mailbox_quota", "must be 0 (unlimited) or more, not %s", l.MailboxQuota)
	}
	for _, f := range []struct {
		key string
		n   int
	}{
		{"limits.max_recipients", l.MaxRecipients},
		{"limits.max_connections_per_ip", l.MaxConnectionsPerIP},
		{"limits.max_unknown_recipients", l.MaxUnknownRecipients},
		{"limits.max_line_length", l.MaxLineLength},
	} {
		if f.n <= 0 {
			v.add(f.key, "must be more than 0, not %d", f.n)
		}
	}
	v.positive("limits.smtp_idle_timeout", l.SMTPIdleTimeout)
	v.positive("limits.imap_idle_timeout", l.IMAPIdleTimeout)
	v.positive("limits.pop3_idle_timeout", l.POP3IdleTimeout)
	v.positive("limits.http_read_timeout", l.HTTPReadTimeout)
}

func (v *validator) positive(key string, d Duration) {
	if d.Duration <= 0 {
		v.add(key, "must be longer than 0, not %s", d)
	}
}

func (v *validator) outbound(o *Outbound) {
	if o.Smarthost != "" {
		v.hostPort("outbound.smarthost", o.Smarthost, 1, false)
	}
	v.nextHops("outbound.routes", o.Routes)
	v.tlsPolicy("outbound.tls", o.TLS)
	if o.TLSReports {
		v.positive("outbound.tls_report_interval", o.TLSReportInterval)
	}
	v.tlsPolicy("outbound.smarthost_tls", o.SmarthostTLS)
	if (o.SmarthostUsername == "") != (o.SmarthostPasswordFile == "") {
		v.add("outbound.smarthost_username", "smarthost_username and smarthost_password_file go together")
	}
	if o.SmarthostUsername != "" {
		if o.Smarthost == "" {
			v.add("outbound.smarthost_username", "set, but there is no smarthost")
		}
		if o.SmarthostTLS == "none" {
			v.add("outbound.smarthost_tls", "\"none\" with smarthost_username: AUTH is only sent over TLS")
		}
	}
	for _, d := range domainTable(v, "outbound.route_tls", o.RouteTLS) {
		v.tlsPolicy("outbound.route_tls."+quoteKey(d), o.RouteTLS[d])
	}
}

func (v *validator) relay(c *Config) {
	r := &c.Relay
	for _, n := range r.TrustedNetworks {
		p, err := netip.ParsePrefix(n)
		switch {
		case err != nil:
			v.add("relay.trusted_networks", "%q is not a network in CIDR notation (like \"10.0.0.0/8\")", n)
		case p.Bits() == 0:
			v.add("relay.trusted_networks", "%q trusts every address: that is an open relay", n)
		}
	}
	switch r.RecipientCheck {
	case RecipientCheckCallout, RecipientCheckNone:
	default:
		v.add("relay.recipient_check", "%q is not %q or %q", r.RecipientCheck, RecipientCheckCallout, RecipientCheckNone)
	}
	for _, d := range v.nextHops("relay.domains", r.Domains) {
		key := "relay.domains." + quoteKey(d)
		if c.IsLocalDomain(d) {
			v.add(key, "%q is also a local domain: a domain is either local (domains) or relayed (relay.domains), not both", d)
		}
		for rd := range c.Outbound.Routes {
			if strings.EqualFold(rd, d) {
				v.add(key, "%q also has an outbound.routes entry: the next hop of a relay domain is set here only", d)
			}
		}
	}
}

// domainTable checks the keys of a table whose keys are domains (outbound.routes,
// outbound.route_tls, relay.domains) and returns them in order.
func domainTable[V any](v *validator, table string, m map[string]V) []string {
	domains := make([]string, 0, len(m))
	for d := range m {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		if why := dnsNameProblem(d); why != "" {
			v.add(table+"."+quoteKey(d), "%q is not a valid domain: %s", d, why)
		}
	}
	return domains
}

// nextHops checks a table of domain = "host:port" next hops (outbound.routes, relay.domains)
// and returns its domains in order.
func (v *validator) nextHops(table string, hops map[string]string) []string {
	domains := domainTable(v, table, hops)
	for _, d := range domains {
		v.hostPort(table+"."+quoteKey(d), hops[d], 1, false)
	}
	return domains
}

func (v *validator) tlsPolicy(key, p string) {
	switch p {
	case "opportunistic", "required", "verify", "none":
	default:
		v.add(key, "%q is not \"opportunistic\", \"required\", \"verify\" or \"none\"", p)
	}
}

// quoteKey writes a TOML key piece, quoted when it is not a bare key.
func quoteKey(s string) string {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func (v *validator) storage(s *Storage) {
	switch s.Backend {
	case BackendEmbedded:
	case BackendPostgres:
		if s.DSN == "" {
			v.add("storage.dsn", "required when backend is %q", BackendPostgres)
		}
	default:
		v.add("storage.backend", "%q is not %q or %q", s.Backend, BackendEmbedded, BackendPostgres)
	}
}

func (v *validator) queue(q *Queue) {
	v.positive("queue.lifetime", q.Lifetime)
	v.positive("queue.min_backoff", q.MinBackoff)
	v.positive("queue.max_backoff", q.MaxBackoff)
	if q.MinBackoff.Duration > q.MaxBackoff.Duration {
		v.add("queue.min_backoff", "%s is longer than max_backoff %s", q.MinBackoff, q.MaxBackoff)
	}
	if q.MaxConnections < 1 {
		v.add("queue.max_connections", "must be at least 1, not %d", q.MaxConnections)
	}
	if q.MaxConnectionsPerDomain < 1 {
		v.add("queue.max_connections_per_domain", "must be at least 1, not %d", q.MaxConnectionsPerDomain)
	}
}

func (v *validator) log(l *Log) {
	switch l.Format {
	case "text", "json":
	default:
		v.add("log.format", "%q is not \"text\" or \"json\"", l.Format)
	}
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q is not \"debug\", \"info\", \"warn\" or \"error\"", l.Level)
	}
}
