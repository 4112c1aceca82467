package config

import (
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// mtaSTSMaxAge is the longest max_age RFC 8461 §3.2 allows (about one year).
const mtaSTSMaxAge = 31557600 * time.Second

// acme checks the ACME keys of [tls].
func (v *validator) acme(t *TLS) {
	if t.ACMEDirectory == "" {
		for _, f := range []struct{ key, val string }{{"tls.acme_email", t.ACMEEmail}, {"tls.acme_ca_file", t.ACMECAFile}} {
			if f.val != "" {
				v.add(f.key, "set without tls.acme_directory")
			}
		}
		if len(t.ACMENames) > 0 {
			v.add("tls.acme_names", "set without tls.acme_directory")
		}
		return
	}
	if u, err := url.Parse(t.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
		v.add("tls.acme_directory", "%q is not an https:// URL", t.ACMEDirectory)
	}
	if t.Cert != "" || t.Key != "" {
		v.add("tls.acme_directory", "set together with tls.cert and tls.key: choose one source of certificates")
	}
	if e := t.ACMEEmail; e != "" && (strings.ContainsAny(e, " \t\r\n<>") || strings.LastIndexByte(e, '@') <= 0) {
		v.add("tls.acme_email", "%q is not an email address", e)
	}
	if t.ACMECAFile != "" {
		if _, err := os.Stat(t.ACMECAFile); err != nil {
			v.add("tls.acme_ca_file", "%v", err)
		}
	}
	for _, n := range t.ACMENames {
		v.name("tls.acme_names", n)
	}
}

// web checks [http] and [mtasts], and that ACME has a listener to answer challenges on.
func (v *validator) web(c *Config) {
	if c.TLS.ACMEDirectory != "" && c.Listen.HTTPS == "" && c.Listen.HTTP == "" {
		v.add("tls.acme_directory", "needs listen.https (TLS-ALPN-01 on port 443) or listen.http (HTTP-01 on port 80)")
	}
	for _, n := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(n); err != nil {
			v.add("http.trusted_proxies", "%q is not a network in CIDR notation (like \"10.0.0.0/8\")", n)
		}
	}
	m := &c.MTASTS
	switch m.Mode {
	case MTASTSEnforce, MTASTSTesting, MTASTSNone:
	default:
		v.add("mtasts.mode", "%q is not %q, %q or %q", m.Mode, MTASTSEnforce, MTASTSTesting, MTASTSNone)
	}
	if m.MaxAge.D() < time.Second || m.MaxAge.D() > mtaSTSMaxAge {
		v.add("mtasts.max_age", "%s is not from 1s to 365d6h (RFC 8461)", m.MaxAge)
	}
	for _, mx := range m.MX {
		v.name("mtasts.mx", strings.TrimPrefix(mx, "*."))
	}
}

// TrustedProxyPrefixes returns http.trusted_proxies parsed. A Config that passed Validate parses.
func (h HTTP) TrustedProxyPrefixes() []netip.Prefix { return prefixes(h.TrustedProxies) }

// ACMEHostnames returns the names the ACME certificate is for: tls.acme_names, or hostname and
// the mta-sts., autoconfig. and openpgpkey. names of every local domain. Lower case, no
// duplicates, hostname first.
func (c *Config) ACMEHostnames() []string {
	names := c.TLS.ACMENames
	if len(names) == 0 {
		names = []string{c.Hostname}
		for _, d := range c.Domains {
			names = append(names, "mta-sts."+d, "autoconfig."+d, "openpgpkey."+d)
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		n = strings.ToLower(n)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// MTASTSMX returns the MX patterns of the MTA-STS policy: mtasts.mx, or hostname.
func (c *Config) MTASTSMX() []string {
	if len(c.MTASTS.MX) > 0 {
		return c.MTASTS.MX
	}
	return []string{c.Hostname}
}
