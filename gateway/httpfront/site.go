package httpfront

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/sealgate/sealgate/gateway/mtasts"
)

// MTASTSPath is where senders fetch the MTA-STS policy, on host mta-sts.DOMAIN (RFC 8461 §3.3).
const MTASTSPath = "/.well-known/mta-sts.txt"

// Autoconfig paths (Thunderbird): on host autoconfig.DOMAIN, and the well-known one on the
// mail domain itself.
const (
	AutoconfigPath          = "/mail/config-v1.1.xml"
	AutoconfigWellKnownPath = "/.well-known/autoconfig/mail/config-v1.1.xml"
	AutodiscoverPath        = "/autodiscover/autodiscover.xml"
)

// maxAutodiscoverBody bounds an autodiscover request; real ones are a few hundred bytes.
const maxAutodiscoverBody = 16 << 10

// Server is one mail service offered to clients: its protocol ("imap", "pop3", "smtp"), port
// and whether TLS is implicit ("SSL") or by STARTTLS.
type Server struct {
	Protocol    string
	Port        int
	ImplicitTLS bool
}

// Settings are what the documents say. They are replaced whole (Site.Set) on reload.
type Settings struct {
	// Hostname is the mail server's name, the one its certificate is for.
	Hostname string
	// Domains are the local mail domains.
	Domains []string
	// Servers are offered in order of preference within each protocol.
	Servers []Server
	// MTASTS is the policy served on mta-sts.DOMAIN for every domain.
	MTASTS *mtasts.Policy
}

// Site answers the MTA-STS policy, autoconfig and autodiscover and passes every other request
// to next.
type Site struct {
	next     http.Handler
	settings atomic.Pointer[Settings]
}

// NewSite returns a Site with s.
func NewSite(next http.Handler, s Settings) *Site {
	site := &Site{next: next}
	site.Set(s)
	return site
}

// Set replaces the settings for the requests that follow.
func (site *Site) Set(s Settings) { site.settings.Store(&s) }

// ServeHTTP implements http.Handler.
func (site *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := site.settings.Load()
	host := hostOnly(r.Host)
	if d, ok := strings.CutPrefix(host, "mta-sts."); ok && s.isDomain(d) {
		// The policy host serves the policy only (RFC 8461 §3.3).
		if r.URL.Path != MTASTSPath || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, s.MTASTS.Text())
		return
	}
	switch r.URL.Path {
	case AutoconfigWellKnownPath, AutoconfigPath:
		if r.URL.Path == AutoconfigPath && !strings.HasPrefix(host, "autoconfig.") {
			break
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Write(s.Autoconfig(s.domainFor(host, r.URL.Query().Get("emailaddress"))))
		return
	case AutodiscoverPath, "/Autodiscover/Autodiscover.xml":
		site.autodiscover(w, r, s)
		return
	}
	site.next.ServeHTTP(w, r)
}

func (s *Settings) isDomain(d string) bool {
	for _, l := range s.Domains {
		if strings.EqualFold(l, d) {
			return true
		}
	}
	return false
}

// domainFor picks the mail domain a client asks about: that of its address, that of
// autoconfig.DOMAIN, else the first local domain.
func (s *Settings) domainFor(host, address string) string {
	if at := strings.LastIndexByte(address, '@'); at >= 0 && s.isDomain(address[at+1:]) {
		return strings.ToLower(address[at+1:])
	}
	if d, ok := strings.CutPrefix(host, "autoconfig."); ok && s.isDomain(d) {
		return d
	}
	if s.isDomain(host) {
		return host
	}
	return s.Domains[0]
}

// Thunderbird's autoconfig format (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat).
type clientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider emailProvider `xml:"emailProvider"`
}

type emailProvider struct {
	ID               string       `xml:"id,attr"`
	Domains          []string     `xml:"domain"`
	DisplayName      string       `xml:"displayName"`
	DisplayShortName string       `xml:"displayShortName"`
	Incoming         []mailServer `xml:"incomingServer"`
	Outgoing         []mailServer `xml:"outgoingServer"`
}

type mailServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
}

// Autoconfig is the Thunderbird configuration for domain: implicit TLS before STARTTLS, IMAP
// before POP3; the user name is the whole address.
func (s *Settings) Autoconfig(domain string) []byte {
	p := emailProvider{ID: domain, Domains: s.Domains, DisplayName: domain + " mail", DisplayShortName: domain}
	for _, srv := range s.ordered() {
		ms := mailServer{Type: srv.Protocol, Hostname: s.Hostname, Port: srv.Port, SocketType: "STARTTLS",
			Authentication: "password-cleartext", Username: "%EMAILADDRESS%"}
		if srv.ImplicitTLS {
			ms.SocketType = "SSL"
		}
		if srv.Protocol == "smtp" {
			p.Outgoing = append(p.Outgoing, ms)
		} else {
			p.Incoming = append(p.Incoming, ms)
		}
	}
	out, _ := xml.MarshalIndent(clientConfig{Version: "1.1", Provider: p}, "", "  ")
	return append([]byte(xml.Header), append(out, '\n')...)
}

// ordered returns the servers IMAP, POP3, SMTP, implicit TLS first within each.
func (s *Settings) ordered() []Server {
	var out []Server
	for _, proto := range []string{"imap", "pop3", "smtp"} {
		for _, implicit := range []bool{true, false} {
			for _, srv := range s.Servers {
				if srv.Protocol == proto && srv.ImplicitTLS == implicit && srv.Port > 0 {
					out = append(out, srv)
				}
			}
		}
	}
	return out
}
