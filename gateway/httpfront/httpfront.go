// Package httpfront is what stands in front of web mail on the http and https listeners:
// the client address and scheme behind trusted reverse proxies (Proxies), the redirect from
// http to https (Redirect), and the documents mail clients and servers fetch by host name —
// the MTA-STS policy (RFC 8461) for mta-sts.DOMAIN, Thunderbird autoconfig for
// autoconfig.DOMAIN and Microsoft autodiscover (Site).
package httpfront

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
)

// RedirectOptions configure Redirect.
type RedirectOptions struct {
	// HTTPSPort returns the https listener's port; 443 leaves it out of the URL.
	HTTPSPort func() int
	// Keep are path prefixes answered by next instead (ACME HTTP-01, /healthz, /metrics).
	Keep []string
}

// Redirect sends every request to the same host and path over https (308, so a POST stays a
// POST), except paths under opts.Keep, which next answers.
func Redirect(next http.Handler, opts RedirectOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range opts.Keep {
			if strings.HasPrefix(r.URL.Path, p) {
				next.ServeHTTP(w, r)
				return
			}
		}
		host := hostOnly(r.Host)
		if host == "" {
			http.Error(w, "https only", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if port := opts.HTTPSPort(); port != 443 && port != 0 {
			host += ":" + strconv.Itoa(port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// hostOnly returns the lower-cased host of a Host header, without port or brackets, or ""
// when it is not a plausible host.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" || len(h) > 253 || strings.ContainsAny(h, "/?#@ \\\"'<>%") {
		return ""
	}
	return h
}

// forwardedHeaders are removed from requests that do not come from a trusted proxy.
var forwardedHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip"}

// maxForwardedHops bounds how many addresses of a forwarding chain are examined.
const maxForwardedHops = 32

// Proxies believes forwarding headers only from trusted proxies. From a peer inside the
// trusted networks, the client is the last address of the Forwarded (RFC 7239) or else
// X-Forwarded-For chain that is not itself a trusted proxy, r.RemoteAddr becomes that client,
// and a Forwarded proto= becomes X-Forwarded-Proto. From any other peer all those headers are
// removed, so nothing after this handler can be misled by them.
type Proxies struct {
	next    http.Handler
	trusted atomic.Pointer[[]netip.Prefix]
}

// NewProxies returns a Proxies that passes requests to next.
func NewProxies(next http.Handler, trusted []netip.Prefix) *Proxies {
	p := &Proxies{next: next}
	p.Set(trusted)
	return p
}

// Set replaces the trusted networks for the requests that follow.
func (p *Proxies) Set(trusted []netip.Prefix) { p.trusted.Store(&trusted) }

func (p *Proxies) isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, n := range trusted {
		if n.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (p *Proxies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	trusted := *p.trusted.Load()
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || len(trusted) == 0 || !p.isTrusted(trusted, peer.Addr()) {
		for _, h := range forwardedHeaders {
			r.Header.Del(h)
		}
		p.next.ServeHTTP(w, r)
		return
	}
	chain, proto := ParseForwarded(r.Header.Values("Forwarded"))
	if len(chain) == 0 {
		chain = ParseXForwardedFor(r.Header.Values("X-Forwarded-For"))
	} else if proto != "" {
		r.Header.Set("X-Forwarded-Proto", proto)
	}
	client := peer.Addr()
	for i := len(chain) - 1; i >= 0; i-- {
		client = chain[i]
		if !p.isTrusted(trusted, client) {
			break
		}
	}
	r2 := r.Clone(r.Context())
	r2.RemoteAddr = netip.AddrPortFrom(client.Unmap(), 0).String()
	p.next.ServeHTTP(w, r2)
}

// ParseXForwardedFor returns the addresses of X-Forwarded-For header values, in order, at most
// the last maxForwardedHops. A value that is not an address ends the chain there: what is to
// its left cannot be placed.
func ParseXForwardedFor(values []string) []netip.Addr {
	var parts []string
	for _, v := range values {
		parts = append(parts, strings.Split(v, ",")...)
	}
	return lastAddrs(parts, func(s string) (netip.Addr, bool) {
		s = strings.TrimSpace(s)
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr(), true
		}
		a, err := netip.ParseAddr(strings.Trim(s, "[]"))
		return a, err == nil
	})
}

// ParseForwarded returns the for= addresses of Forwarded header values (RFC 7239), in order,
// at most the last maxForwardedHops, and the proto= of the last element that has one.
func ParseForwarded(values []string) (chain []netip.Addr, proto string) {
	var elems []string
	for _, v := range values {
		elems = append(elems, strings.Split(v, ",")...)
	}
	if len(elems) > maxForwardedHops {
		elems = elems[len(elems)-maxForwardedHops:]
	}
	var fors []string
	for _, e := range elems {
		var f string
		for _, pair := range strings.Split(e, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "for":
				f = v
			case "proto":
				if p := strings.ToLower(v); p == "http" || p == "https" {
					proto = p
				}
			}
		}
		fors = append(fors, f)
	}
	return lastAddrs(fors, func(s string) (netip.Addr, bool) {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr(), true
		}
		a, err := netip.ParseAddr(strings.Trim(s, "[]"))
		return a, err == nil
	}), proto
}

// lastAddrs parses parts from the right, stopping at the first that does not parse.
func lastAddrs(parts []string, parse func(string) (netip.Addr, bool)) []netip.Addr {
	if len(parts) > maxForwardedHops {
		parts = parts[len(parts)-maxForwardedHops:]
	}
	var out []netip.Addr
	for i := len(parts) - 1; i >= 0; i-- {
		a, ok := parse(parts[i])
		if !ok {
			break
		}
		out = append(out, a)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
