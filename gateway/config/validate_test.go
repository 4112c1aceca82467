package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/certtest"
)

// writeCert writes a self-signed certificate and its key as PEM files in dir.
func writeCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certtest.WriteFiles(t, certPath, keyPath, certtest.Options{Names: []string{"localhost"}})
	return certPath, keyPath
}

// TestValidate has one row per rule: a change to Default and the problem it
// must cause ("" for none).
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	otherCert, _ := writeCert(t, t.TempDir())
	dur := func(s string) Duration {
		d, err := ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return Duration{d}
	}
	for _, tt := range []struct {
		name   string
		change func(c *Config)
		want   string // the problem's String(); "" means valid
	}{
		{"default", func(c *Config) {}, ""},

		{"hostname fqdn", func(c *Config) { c.Hostname = "mx1.example.test" }, ""},
		{"hostname empty", func(c *Config) { c.Hostname = "" }, `hostname: "" is not a valid DNS name: empty`},
		{"hostname underscore", func(c *Config) { c.Hostname = "mx_1" }, `hostname: "mx_1" is not a valid DNS name: character '_' not allowed`},
		{"hostname space", func(c *Config) { c.Hostname = "mx 1" }, `hostname: "mx 1" is not a valid DNS name: character ' ' not allowed`},
		{"hostname empty label", func(c *Config) { c.Hostname = "a..b" }, `hostname: "a..b" is not a valid DNS name: empty label`},
		{"hostname trailing dot", func(c *Config) { c.Hostname = "a.b." }, `hostname: "a.b." is not a valid DNS name: trailing dot`},
		{"hostname hyphen", func(c *Config) { c.Hostname = "-a.b" }, `hostname: "-a.b" is not a valid DNS name: label starts or ends with a hyphen`},
		{"hostname long label", func(c *Config) { c.Hostname = strings.Repeat("a", 64) + ".test" }, "label longer than 63 characters"},
		{"hostname too long", func(c *Config) { c.Hostname = strings.Repeat("a.", 127) + "aa" }, "longer than 253 characters"},
		{"hostname IP", func(c *Config) { c.Hostname = "192.0.2.1" }, `hostname: "192.0.2.1" is not a valid DNS name: an IP address`},
		{"hostname unicode", func(c *Config) { c.Hostname = "bücher.test" }, "xn-- form"},
		{"hostname punycode", func(c *Config) { c.Hostname = "xn--bcher-kva.test" }, ""},

		{"domains none", func(c *Config) { c.Domains = nil }, "domains: at least one local domain is required"},
		{"domain invalid", func(c *Config) { c.Domains = []string{"example.test", "bad domain"} }, `domains: "bad domain" is not a valid DNS name: character ' ' not allowed`},
		{"domain twice", func(c *Config) { c.Domains = []string{"example.test", "Example.test"} }, `domains: "Example.test" is listed more than once`},

		{"listen port 0 twice", func(c *Config) { c.Listen.SMTP, c.Listen.IMAP = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"listen disabled", func(c *Config) { c.Listen = Listen{} }, ""},
		{"listen ipv6", func(c *Config) { c.Listen.SMTP = "[::1]:25" }, ""},
		{"listen name", func(c *Config) { c.Listen.SMTP = "localhost:25" }, ""},
		{"listen all interfaces", func(c *Config) { c.Listen.SMTP = ":25" }, ""},
		{"listen no port", func(c *Config) { c.Listen.SMTP = "abc" }, `listen.smtp: "abc" is not host:port`},
		{"listen named port", func(c *Config) { c.Listen.IMAP = "127.0.0.1:imap" }, `listen.imap: "127.0.0.1:imap" is not host:port: the port must be a number from 0 to 65535`},
		{"listen big port", func(c *Config) { c.Listen.POP3 = "127.0.0.1:65536" }, `listen.pop3: "127.0.0.1:65536" is not host:port: the port must be a number from 0 to 65535`},
		{"listen bad host", func(c *Config) { c.Listen.HTTP = "a_b:80" }, `listen.http: "a_b:80" is not host:port: the host is neither an IP address nor a DNS name`},
		{"listen same address", func(c *Config) { c.Listen.IMAP = "127.0.0.1:2525" }, `listen.imap: "127.0.0.1:2525" conflicts with listen.smtp on port 2525`},
		{"listen wildcard overlap", func(c *Config) { c.Listen.HTTP = "0.0.0.0:2525" }, `listen.http: "0.0.0.0:2525" conflicts with listen.smtp on port 2525`},
		{"listen other host same port", func(c *Config) { c.Listen.HTTP = "127.0.0.2:2525" }, ""},

		{"tls pair", func(c *Config) { c.TLS = TLS{Cert: cert, Key: key} }, ""},
		{"tls cert only", func(c *Config) { c.TLS.Cert = cert }, "tls.key: missing: tls.cert is set, so tls.key must be too"},
		{"tls key only", func(c *Config) { c.TLS.Key = key }, "tls.cert: missing: tls.key is set, so tls.cert must be too"},
		{"tls missing file", func(c *Config) { c.TLS = TLS{Cert: filepath.Join(dir, "nope.pem"), Key: key} }, "tls.cert: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"tls not a pair", func(c *Config) { c.TLS = TLS{Cert: otherCert, Key: key} }, "private key does not match public key"},
		{"tls swapped", func(c *Config) { c.TLS = TLS{Cert: key, Key: cert} }, "tls: cannot use"},

		{"size zero", func(c *Config) { c.Limits.MaxMessageSize = 0 }, "limits.max_message_size: must be more than 0, not 0B"},
		{"recipients zero", func(c *Config) { c.Limits.MaxRecipients = 0 }, "limits.max_recipients: must be more than 0, not 0"},
		{"connections negative", func(c *Config) { c.Limits.MaxConnectionsPerIP = -1 }, "limits.max_connections_per_ip: must be more than 0, not -1"},
		{"line length zero", func(c *Config) { c.Limits.MaxLineLength = 0 }, "limits.max_line_length: must be more than 0, not 0"},
		{"smtp idle zero", func(c *Config) { c.Limits.SMTPIdleTimeout = Duration{} }, "limits.smtp_idle_timeout: must be longer than 0, not 0s"},
		{"imap idle zero", func(c *Config) { c.Limits.IMAPIdleTimeout = Duration{} }, "limits.imap_idle_timeout: must be longer than 0, not 0s"},
		{"pop3 idle zero", func(c *Config) { c.Limits.POP3IdleTimeout = Duration{} }, "limits.pop3_idle_timeout: must be longer than 0, not 0s"},

		{"smarthost", func(c *Config) { c.Outbound.Smarthost = "relay.example.test:587" }, ""},
		{"smarthost no port", func(c *Config) { c.Outbound.Smarthost = "relay.example.test" }, `outbound.smarthost: "relay.example.test" is not host:port`},
		{"smarthost port 0", func(c *Config) { c.Outbound.Smarthost = "relay.example.test:0" }, "the port must be a number from 1 to 65535"},
		{"smarthost no host", func(c *Config) { c.Outbound.Smarthost = ":25" }, `outbound.smarthost: ":25" is not host:port: the host is missing`},
		{"route", func(c *Config) { c.Outbound.Routes = map[string]string{"partner.test": "127.0.0.1:2626"} }, ""},
		{"route bad value", func(c *Config) { c.Outbound.Routes = map[string]string{"partner.test": "127.0.0.1"} }, `outbound.routes."partner.test": "127.0.0.1" is not host:port`},
		{"route tls", func(c *Config) { c.Outbound.RouteTLS = map[string]string{"partner.test": "verify"} }, ""},
		{"route tls bad", func(c *Config) { c.Outbound.RouteTLS = map[string]string{"partner.test": "always"} }, `outbound.route_tls."partner.test": "always" is not`},
		{"mx tls bad", func(c *Config) { c.Outbound.TLS = "" }, `outbound.tls: "" is not`},
		{"smarthost auth without host", func(c *Config) { c.Outbound.SmarthostUsername, c.Outbound.SmarthostPasswordFile = "u", "/pw" }, "outbound.smarthost_username: set, but there is no smarthost"},
		{"smarthost auth half", func(c *Config) { c.Outbound.Smarthost, c.Outbound.SmarthostUsername = "relay.test:587", "u" }, "go together"},
		{"queue connections", func(c *Config) { c.Queue.MaxConnectionsPerDomain = 0 }, "queue.max_connections_per_domain: must be at least 1"},
		{"route bad domain", func(c *Config) { c.Outbound.Routes = map[string]string{"bad_domain": "127.0.0.1:25"} }, `outbound.routes.bad_domain: "bad_domain" is not a valid domain: character '_' not allowed`},

		{"relay", func(c *Config) {
			c.Relay = Relay{TrustedNetworks: []string{"10.0.0.0/8", "2001:db8::/32"}, RecipientCheck: "none", Domains: map[string]string{"corp.example": "10.0.0.5:25"}}
		}, ""},
		{"relay network", func(c *Config) { c.Relay.TrustedNetworks = []string{"10.0.0.1"} }, `relay.trusted_networks: "10.0.0.1" is not a network in CIDR notation`},
		{"relay everyone", func(c *Config) { c.Relay.TrustedNetworks = []string{"0.0.0.0/0"} }, `relay.trusted_networks: "0.0.0.0/0" trusts every address: that is an open relay`},
		{"relay check", func(c *Config) { c.Relay.RecipientCheck = "verify" }, `relay.recipient_check: "verify" is not "callout" or "none"`},
		{"relay hop", func(c *Config) { c.Relay.Domains = map[string]string{"corp.example": "mail.corp.example"} }, `relay.domains."corp.example": "mail.corp.example" is not host:port`},
		{"relay and local", func(c *Config) { c.Relay.Domains = map[string]string{"localhost": "10.0.0.5:25"} }, `relay.domains.localhost: "localhost" is also a local domain: a domain is either local (domains) or relayed (relay.domains), not both`},
		{"relay and route", func(c *Config) {
			c.Relay.Domains = map[string]string{"corp.example": "10.0.0.5:25"}
			c.Outbound.Routes = map[string]string{"corp.example": "10.0.0.6:25"}
		}, `relay.domains."corp.example": "corp.example" also has an outbound.routes entry`},

		{"postgres", func(c *Config) { c.Storage = Storage{Backend: "postgres", DSN: "postgres://u@h/db"} }, ""},
		{"postgres without dsn", func(c *Config) { c.Storage.Backend = "postgres" }, `storage.dsn: required when backend is "postgres"`},
		{"unknown backend", func(c *Config) { c.Storage.Backend = "mysql" }, `storage.backend: "mysql" is not "embedded" or "postgres"`},

		{"lifetime zero", func(c *Config) { c.Queue.Lifetime = Duration{} }, "queue.lifetime: must be longer than 0, not 0s"},
		{"min backoff zero", func(c *Config) { c.Queue.MinBackoff = Duration{} }, "queue.min_backoff: must be longer than 0, not 0s"},
		{"max backoff zero", func(c *Config) { c.Queue.MaxBackoff, c.Queue.MinBackoff = Duration{}, Duration{} }, "queue.max_backoff: must be longer than 0, not 0s"},
		{"backoff equal", func(c *Config) { c.Queue.MinBackoff = dur("1h") }, ""},
		{"backoff inverted", func(c *Config) { c.Queue.MinBackoff = dur("2h") }, "queue.min_backoff: 2h is longer than max_backoff 1h"},

		{"log json debug", func(c *Config) { c.Log = Log{Format: "json", Level: "debug"} }, ""},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, `log.format: "xml" is not "text" or "json"`},
		{"log level", func(c *Config) { c.Log.Level = "INFO" }, `log.level: "INFO" is not "debug", "info", "warn" or "error"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(c)
			ps := c.Validate()
			if tt.want == "" {
				if ps != nil {
					t.Errorf("problems %v, want none", ps)
				}
				return
			}
			found := false
			for _, p := range ps {
				if p.String() == tt.want || strings.Contains(p.String(), tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want one like %q", ps, tt.want)
			}
		})
	}
}

func TestParseRelay(t *testing.T) {
	c, err := Parse([]byte("domains = [\"example.test\"]\n[relay]\ntrusted_networks = [\"192.0.2.0/24\"]\n[relay.domains]\n\"Corp.Example\" = \"192.0.2.5:25\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if hop, ok := c.RelayNextHop("CORP.example"); !ok || hop != "192.0.2.5:25" {
		t.Errorf("RelayNextHop = %q, %v", hop, ok)
	}
	if !c.IsOurDomain("corp.example") || !c.IsOurDomain("example.test") || c.IsOurDomain("other.test") || c.IsLocalDomain("corp.example") {
		t.Error("IsOurDomain/IsLocalDomain wrong for local, relay and other domains")
	}
	if ps := c.Relay.TrustedPrefixes(); len(ps) != 1 || ps[0].String() != "192.0.2.0/24" {
		t.Errorf("TrustedPrefixes = %v", ps)
	}
	ps := parseProblems(t, "domains = [\"corp.example\"]\n[relay.domains]\n\"CORP.example\" = \"192.0.2.5:25\"\n")
	if len(ps) != 1 || !strings.Contains(ps[0].String(), "also a local domain") {
		t.Errorf("problems %v", ps)
	}
}

func TestParseNormalizes(t *testing.T) {
	ps := parseProblems(t, "[outbound.routes]\n\"A.test\" = \"h:1\"\n\"a.TEST\" = \"h:2\"")
	if len(ps) != 1 || ps[0].String() != `outbound.routes: "a.test" is given more than once` {
		t.Errorf("problems %v", ps)
	}
}
