package config

import (
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
)

// The doc comments on the types and fields in this file are the text of
// `sealgate config example`: gen_example.go copies each field's comment above
// its key in example.toml. Write them for an operator reading a TOML file, and
// leave default values out of them: the example prints each default from
// Default, so it cannot drift.

//go:generate go run gen_example.go

// Config is Sealgate's configuration.
//
// sealgate serve --config FILE reads FILE; without --config it reads
// DIR/sealgate.toml if that exists, and otherwise runs on the built-in defaults.
// A key left out of the file keeps its built-in default. Every key below is set
// to its default, so this file behaves exactly like no file at all. Unknown keys
// are errors. Durations are Go durations with an optional leading day count
// ("90m", "1h30m", "5d", "1d12h"); sizes are bytes, or a string such as
// "512KiB", "10MB" or "50MiB". Relative file paths are taken relative to the
// directory of this file. Check a file with: sealgate config check FILE
type Config struct {
	// Name of this host: announced in the SMTP greeting and in EHLO, and
	// written into Received headers. A DNS name; for Internet mail it should
	// match the reverse DNS of the outgoing address.
	Hostname string `toml:"hostname"`

	// Local domains: mail to these domains is delivered into local mailboxes,
	// mail to any other domain is relayed (only for authenticated users).
	// Compared without regard to case; at least one is required.
	Domains []string `toml:"domains"`

	// Listening addresses, as "host:port". An empty string disables that
	// listener; a host of "" or "0.0.0.0" listens on every interface.
	Listen Listen `toml:"listen"`

	// TLS certificate for every listener (STARTTLS and implicit TLS).
	TLS TLS `toml:"tls"`

	// The HTTP and HTTPS listeners behind a reverse proxy.
	HTTP HTTP `toml:"http"`

	// The MTA-STS policy (RFC 8461) served for every local domain at
	// https://mta-sts.DOMAIN/.well-known/mta-sts.txt on the https listener.
	// Publish it with a TXT record "_mta-sts.DOMAIN" = "v=STSv1; id=..."
	// (sealgate dns records prints it).
	MTASTS MTASTS `toml:"mtasts"`

	// Authentication of users over SMTP submission, IMAP, POP3 and web mail.
	Auth Auth `toml:"auth"`

	// Limits that protect the server; every limit answers with the protocol's
	// own error.
	Limits Limits `toml:"limits"`

	// Gateway mode: Sealgate in front of the organisation's own mail server
	// (Exchange, Microsoft 365, Google Workspace, Postfix). Mail for a relay
	// domain passes the policy engine and is queued for that domain's next
	// hop; the organisation's servers send outbound mail through Sealgate.
	Relay Relay `toml:"relay"`

	// Delivery of mail to other domains.
	Outbound Outbound `toml:"outbound"`

	// Where mailboxes, the queue's metadata, users and keys are stored.
	Storage Storage `toml:"storage"`

	// The queue of messages waiting for delivery to other domains.
	Queue Queue `toml:"queue"`

	// Protection of private keys at rest.
	Keys Keys `toml:"keys"`

	// DNS for the checks of inbound mail (SPF, DKIM, DMARC) and for delivery.
	DNS DNS `toml:"dns"`

	// Sender authentication of Internet mail (SPF, DKIM, DMARC). Mail from
	// the Internet that claims a local domain in MAIL FROM or From: is
	// refused unless SPF passes or an aligned DKIM signature verifies. Mail
	// that fails DMARC is refused when the From: domain's policy is "reject"
	// and goes to the Junk folder when it is "quarantine".
	MailAuth MailAuth `toml:"mailauth"`

	// How recipient addresses are resolved: sub-addresses and the postmaster.
	// Aliases, forwarding and catch-alls are managed with `sealgate alias`.
	Addressing Addressing `toml:"addressing"`

	// Logging to standard error.
	Log Log `toml:"log"`
}

// Listen holds the listening addresses. An empty address disables that
// listener; port 0 picks a free port (used by tests).
type Listen struct {
	// SMTP for the MX role (Internet mail to local users): no AUTH required,
	// local recipients only. The Internet standard port is 25.
	SMTP string `toml:"smtp"`

	// SMTP submission for own users: STARTTLS and AUTH required. The standard
	// port is 587.
	Submission string `toml:"submission"`

	// SMTP submission over implicit TLS, AUTH required. The standard port is 465.
	Submissions string `toml:"submissions"`

	// IMAP with STARTTLS offered. The standard port is 143.
	IMAP string `toml:"imap"`

	// IMAP over implicit TLS. The standard port is 993.
	IMAPS string `toml:"imaps"`

	// POP3 with STLS offered. The standard port is 110.
	POP3 string `toml:"pop3"`

	// POP3 over implicit TLS. The standard port is 995.
	POP3S string `toml:"pop3s"`

	// HTTP: web mail, /metrics, /healthz and WKD
	// (/.well-known/openpgpkey). When https is set, every request here is
	// redirected there, except ACME HTTP-01 challenges, /healthz and
	// /metrics.
	HTTP string `toml:"http"`

	// HTTPS: web mail, WKD (also for Host openpgpkey.DOMAIN), the MTA-STS
	// policy (Host mta-sts.DOMAIN), Thunderbird autoconfig (Host
	// autoconfig.DOMAIN, or /.well-known/autoconfig/mail/config-v1.1.xml on
	// any name) and Microsoft autodiscover (/autodiscover/autodiscover.xml).
	// The Internet standard port is 443.
	HTTPS string `toml:"https"`

	// /metrics and /healthz on a listener of their own (plain HTTP, keep it
	// on a private address); they then leave the http and https listeners.
	// Empty: they are served on http (and https).
	Metrics string `toml:"metrics"`
}

// TLS names the certificate the listeners present. Both paths empty: a
// self-signed certificate is made in the data directory on first start.
type TLS struct {
	// PEM file with the certificate chain, leaf first. Set together with key;
	// leave both empty for a self-signed certificate made in the data directory.
	Cert string `toml:"cert"`

	// PEM file with the private key of cert. It is read where it is, not
	// sealed into the data directory. A changed cert or key file is noticed
	// within a minute (and at once on SIGHUP) and served to new connections.
	Key string `toml:"key"`

	// ACME (RFC 8555) directory URL, such as Let's Encrypt's
	// "https://acme-v02.api.letsencrypt.org/directory". Set, Sealgate obtains
	// one certificate for acme_names, serves it on every TLS listener, and
	// renews it when two thirds of its lifetime have passed. Challenges are
	// answered with TLS-ALPN-01 on the https listener (which must be reached
	// on port 443) or HTTP-01 on the http listener (port 80). The account key
	// and certificate are kept in the data directory, the keys sealed. cert
	// and key must be empty.
	ACMEDirectory string `toml:"acme_directory"`

	// Contact address given to the ACME server for expiry notices.
	ACMEEmail string `toml:"acme_email"`

	// PEM file with the root certificates to trust for the ACME server's own
	// HTTPS (a private CA); empty: the system roots.
	ACMECAFile string `toml:"acme_ca_file"`

	// Names the ACME certificate is for. Empty: hostname and, for each local
	// domain, mta-sts.DOMAIN, autoconfig.DOMAIN and openpgpkey.DOMAIN; every
	// name must resolve to this server, or the certificate is not issued.
	ACMENames []string `toml:"acme_names"`
}

// HTTP holds the settings of the HTTP and HTTPS listeners.
type HTTP struct {
	// Networks, as CIDRs, of reverse proxies in front of the http and https
	// listeners. Only from these addresses are X-Forwarded-For, Forwarded and
	// X-Forwarded-Proto believed: the client address they name is the one
	// login throttling and per-address limits count. From any other address
	// those headers are removed. Empty: no proxy is trusted.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// MTA-STS policy modes (RFC 8461 §3.2).
const (
	MTASTSEnforce = "enforce"
	MTASTSTesting = "testing"
	MTASTSNone    = "none"
)

// MTASTS is the MTA-STS policy of the local domains.
type MTASTS struct {
	// "enforce": senders must deliver over TLS with a valid certificate to
	// one of mx; "testing": they deliver anyway and report failures; "none":
	// the policy is withdrawn.
	Mode string `toml:"mode"`

	// How long senders may cache the policy.
	MaxAge Duration `toml:"max_age"`

	// MX host names the policy allows, patterns like "*.example.org"
	// allowed. Empty: hostname.
	MX []string `toml:"mx"`
}

// Auth holds the authentication settings.
type Auth struct {
	// Allow plaintext passwords (AUTH PLAIN/LOGIN, IMAP LOGIN, POP3 USER/PASS)
	// without TLS, only from loopback clients. For local development; sealgate
	// serve --demo turns it on.
	PlaintextOnLoopback bool `toml:"plaintext_on_loopback"`
}

// Limits holds the resource limits.
type Limits struct {
	// Largest message accepted, in bytes or as "50MiB"; advertised in SMTP
	// SIZE and IMAP APPENDLIMIT. It bounds the decrypted and decompressed
	// content of a message too (a compression bomb is refused).
	MaxMessageSize Size `toml:"max_message_size"`

	// Most recipients accepted for one message.
	MaxRecipients int `toml:"max_recipients"`

	// Storage each account's messages may take, in bytes or as "2GiB"; 0 is
	// unlimited. `sealgate user quota` gives an account a limit of its own.
	// Mail for an account at its limit is refused at RCPT with 452 4.2.2,
	// and a message that would take it past the limit with 552 5.2.2 (other
	// recipients still get it); IMAP APPEND and COPY are refused
	// [OVERQUOTA]. Mail relayed to other servers is not counted.
	MailboxQuota Size `toml:"mailbox_quota"`

	// Most simultaneous connections from one client IP address. Loopback
	// clients are not exempt.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`

	// Unknown local recipients one SMTP session may try (against address
	// harvesting, like Postfix's smtpd_hard_error_limit). Past half of them
	// each further one is answered after a growing delay (1s, 2s, 4s, then
	// 8s); one more ends the session with 421 4.7.0.
	MaxUnknownRecipients int `toml:"max_unknown_recipients"`

	// Longest SMTP command line (or AUTH response), in bytes, CRLF
	// included. Lines inside a message are bounded only by max_message_size.
	MaxLineLength int `toml:"max_line_length"`

	// An SMTP session idle this long is closed.
	SMTPIdleTimeout Duration `toml:"smtp_idle_timeout"`

	// An IMAP session idle this long is closed.
	IMAPIdleTimeout Duration `toml:"imap_idle_timeout"`

	// A POP3 session idle this long is closed.
	POP3IdleTimeout Duration `toml:"pop3_idle_timeout"`

	// An HTTP request (web mail, WKD, metrics) whose headers and body take
	// longer than this to arrive is cut off; its headers alone may take at
	// most 10s.
	HTTPReadTimeout Duration `toml:"http_read_timeout"`
}

// Relay holds the settings of gateway mode. A domain is either local (in
// domains) or relayed (in relay.domains), never both.
type Relay struct {
	// Networks, as CIDRs ("10.0.0.0/8", "2001:db8::/32"), whose mail servers
	// may relay through the MX listener without AUTH, for envelope senders in
	// local and relay domains and for the null sender (their bounces). Their
	// mail gets the outbound treatment of submitted mail: signing, encryption
	// per recipient, Autocrypt, DKIM. Empty: no network is trusted.
	TrustedNetworks []string `toml:"trusted_networks"`

	// How recipients in relay domains are checked at RCPT: "callout" asks the
	// next hop with an RCPT probe from the null sender and refuses the
	// addresses it refuses with 5xx (answers are cached; a 4xx or an
	// unreachable next hop does not refuse mail), "none" accepts every
	// address and leaves unknown users to bounce from the next hop.
	RecipientCheck string `toml:"recipient_check"`

	// Relay domains, "domain" = "host:port" of the organisation's own mail
	// server for that domain. Their mail passes the policy engine (decrypt,
	// verify, encrypt at the gateway, refuse) and is queued for that next hop,
	// with one Sealgate-Security header. Keys, policy, WKD and DKIM work for
	// their addresses as for local ones; no accounts are needed. Example:
	// "corp.example" = "10.0.0.5:25"
	Domains map[string]string `toml:"domains"`
}

// Outbound holds the settings for delivery to other domains.
type Outbound struct {
	// "host:port" to relay all remote mail through instead of looking up each
	// domain's MX; empty for direct delivery.
	Smarthost string `toml:"smarthost"`

	// Per-domain next hop, "domain" = "host:port", taking precedence over the
	// smarthost and MX records (a transport map). Relaying to these domains
	// still requires AUTH. Example: "partner.test" = "127.0.0.1:2626"
	Routes map[string]string `toml:"routes"`

	// How delivery to MX hosts uses STARTTLS: "opportunistic" (used when
	// offered, any certificate accepted, plain SMTP when the peer offers
	// none), "required" (STARTTLS must succeed; any certificate), "verify"
	// (STARTTLS with a certificate valid for the host name) or "none".
	TLS string `toml:"tls"`

	// STARTTLS policy for the smarthost, with the values of tls.
	SmarthostTLS string `toml:"smarthost_tls"`

	// User name for AUTH PLAIN at the smarthost; empty sends no AUTH. AUTH
	// is only ever sent inside TLS.
	SmarthostUsername string `toml:"smarthost_username"`

	// File whose first line is the smarthost password; required with
	// smarthost_username. Keep it readable only by Sealgate.
	SmarthostPasswordFile string `toml:"smarthost_password_file"`

	// Per-domain STARTTLS policy, "domain" = policy with the values of tls,
	// for that domain's route or MX hosts. Example: "partner.test" = "verify"
	RouteTLS map[string]string `toml:"route_tls"`

	// Follow the MTA-STS policies (RFC 8461) of destination domains when
	// delivering to their MX hosts: under "enforce" only the MX hosts a policy
	// names are used, with STARTTLS and a certificate valid for the host name,
	// and mail waits in the queue otherwise; under "testing" what enforce
	// would refuse is logged. Policies are cached for their max_age. Routes
	// and the smarthost are not affected.
	MTASTS bool `toml:"mta_sts"`

	// Follow DANE (RFC 7672) for MX hosts whose TLSA records are DNSSEC
	// authenticated: STARTTLS with a certificate the records accept, else mail
	// waits in the queue. It takes precedence over MTA-STS for those hosts.
	// Only with dns.resolver set to a validating resolver the gateway trusts
	// (a local one): its AD bit is believed. Without dns.resolver it is off.
	DANE bool `toml:"dane"`

	// Send SMTP TLS reports (RFC 8460): for each domain mail went to whose
	// _smtp._tls TXT record names mailto: addresses, a daily report of the
	// TLS sessions with its MX hosts (policy, successes, failures), from
	// postmaster@ the first local domain. Counts are kept in the store (a
	// crash loses at most the last minute's).
	TLSReports bool `toml:"tls_reports"`

	// How often TLS reports are sent, each covering the time since the last.
	TLSReportInterval Duration `toml:"tls_report_interval"`
}

// Storage backends.
const (
	// BackendEmbedded keeps everything in the data directory.
	BackendEmbedded = "embedded"
	// BackendPostgres keeps metadata in PostgreSQL, shared by several nodes.
	BackendPostgres = "postgres"
)

// Storage selects the store.
type Storage struct {
	// "embedded": everything in the data directory, no setup. "postgres":
	// several gateway nodes share one PostgreSQL database (run sealgate db
	// migrate first).
	Backend string `toml:"backend"`

	// PostgreSQL connection string, required when backend is "postgres", e.g.
	// "postgres://user@host:5432/db?sslmode=disable".
	DSN string `toml:"dsn"`
}

// Queue holds the retry schedule of the outbound queue.
type Queue struct {
	// A message not delivered after this long is bounced to its sender with a
	// delivery status notification.
	Lifetime Duration `toml:"lifetime"`

	// Wait before the first retry; later waits grow exponentially up to
	// max_backoff.
	MinBackoff Duration `toml:"min_backoff"`

	// Longest wait between two delivery attempts.
	MaxBackoff Duration `toml:"max_backoff"`

	// When a message still cannot be delivered this long after it was
	// queued, its sender gets one notice that it is delayed and still being
	// retried. "0s" sends no such notices.
	DelayWarning Duration `toml:"delay_warning"`

	// Most delivery sessions open at once, in total.
	MaxConnections int `toml:"max_connections"`

	// Most delivery sessions open at once to one destination domain.
	MaxConnectionsPerDomain int `toml:"max_connections_per_domain"`
}

// Keys holds the settings of the keyring.
type Keys struct {
	// File with the master key that seals every private key on disk. Empty:
	// DIR/master.key, created with mode 0600 on first use. Nodes sharing a
	// database must be given the same file.
	MasterKeyFile string `toml:"master_key_file"`

	// Look up the OpenPGP keys of remote recipients in their domain's Web
	// Key Directory (HTTPS) when the keyring has none, so that outbound mail
	// can be encrypted to them. Found keys are kept as harvested. Answers are
	// cached; a lookup waits at most 5 seconds.
	WKDLookup bool `toml:"wkd_lookup"`
}

// Addressing holds the address resolution settings.
type Addressing struct {
	// Separator of sub-addresses in the local domains: mail to user+tag@domain
	// goes to user, into the folder "tag" when it exists, under user's policy
	// and keys; user may send as user+tag@domain. Empty turns sub-addresses
	// off. Addresses in other domains are split at "+" only.
	SubaddressSeparator string `toml:"subaddress_separator"`

	// Account that receives mail for postmaster@ and abuse@ of every local
	// domain (an alias for those addresses overrides it). Empty: the account
	// created first; when there is no account at all, the gateway creates
	// postmaster@ the first local domain on start.
	Postmaster string `toml:"postmaster"`
}

// DNS holds the name resolution settings.
type DNS struct {
	// "host:port" of a DNS server to ask (a local validating resolver, for
	// example). Empty: the system resolver.
	Resolver string `toml:"resolver"`
}

// MailAuth holds the sender authentication settings (mailauth.SenderPolicy).
type MailAuth struct {
	// Mailing lists and forwarders that resend other people's mail, which
	// then fails DMARC through no fault of theirs. Mail authenticated as
	// coming from one of these domains or a subdomain (SPF pass for its
	// MAIL FROM domain, or a valid DKIM signature with its d=) is delivered
	// whatever the DMARC result, and may carry a local domain in From:.
	// Example: ["lists.example.org"]
	DMARCExempt []string `toml:"dmarc_exempt"`
}

// Log holds the logging settings.
type Log struct {
	// "text" for people, "json" for log collectors.
	Format string `toml:"format"`

	// Least severe level written: "debug", "info", "warn" or "error".
	Level string `toml:"level"`
}

// Default returns the built-in configuration: loopback development ports,
// domain "localhost", the embedded store and a self-signed certificate. Each
// call returns a new value that the caller may change.
func Default() *Config {
	return &Config{
		Hostname: "localhost",
		Domains:  []string{"localhost"},
		Listen: Listen{
			SMTP:        "127.0.0.1:2525",
			Submission:  "127.0.0.1:2587",
			Submissions: "127.0.0.1:2465",
			IMAP:        "127.0.0.1:2143",
			IMAPS:       "127.0.0.1:2993",
			POP3:        "127.0.0.1:2110",
			POP3S:       "127.0.0.1:2995",
			HTTP:        "127.0.0.1:8080",
		},
		Limits: Limits{
			MaxMessageSize:      50 * MiB,
			MaxRecipients:       1000,
			MaxConnectionsPerIP: 100,
			MaxLineLength:       4096,
			SMTPIdleTimeout:     Duration{5 * time.Minute},
			IMAPIdleTimeout:     Duration{30 * time.Minute},
			POP3IdleTimeout:     Duration{10 * time.Minute},

			MaxUnknownRecipients: 20,
			HTTPReadTimeout:      Duration{5 * time.Minute},
		},
		TLS:      TLS{ACMENames: []string{}},
		HTTP:     HTTP{TrustedProxies: []string{}},
		MTASTS:   MTASTS{Mode: MTASTSTesting, MaxAge: Duration{7 * 24 * time.Hour}, MX: []string{}},
		Relay:    Relay{TrustedNetworks: []string{}, RecipientCheck: RecipientCheckCallout, Domains: map[string]string{}},
		Outbound: Outbound{Routes: map[string]string{}, TLS: "opportunistic", SmarthostTLS: "opportunistic", RouteTLS: map[string]string{}, MTASTS: true, DANE: true, TLSReportInterval: Duration{24 * time.Hour}},
		Storage:  Storage{Backend: BackendEmbedded},
		Queue: Queue{
			Lifetime:     Duration{5 * 24 * time.Hour},
			MinBackoff:   Duration{5 * time.Minute},
			MaxBackoff:   Duration{time.Hour},
			DelayWarning: Duration{4 * time.Hour},

			MaxConnections:          20,
			MaxConnectionsPerDomain: 4,
		},
		MailAuth:   MailAuth{DMARCExempt: []string{}},
		Log:        Log{Format: "text", Level: "info"},
		Addressing: Addressing{SubaddressSeparator: "+"},
	}
}

// Subaddressing is the sub-address rule: the separator of [addressing] in the local and relay
// domains, and in other domains "+", the near-universal convention (Gmail, Outlook.com, Fastmail,
// Postfix's recipient_delimiter), so that bob+x@ there keeps bob@'s keys and policy. The
// gateway hands this one value to every part that reads sub-addresses.
func (c *Config) Subaddressing() address.Subaddressing {
	return address.Subaddressing{Separator: c.Addressing.SubaddressSeparator, Domains: c.IsOurDomain, Others: "+"}
}

// IsLocalDomain reports whether domain is one of c.Domains, ignoring case.
func (c *Config) IsLocalDomain(domain string) bool {
	for _, d := range c.Domains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

// Values of relay.recipient_check.
const (
	// RecipientCheckCallout asks the next hop whether a relay-domain recipient exists.
	RecipientCheckCallout = "callout"
	// RecipientCheckNone accepts every address in a relay domain.
	RecipientCheckNone = "none"
)

// IsRelayDomain reports whether domain is one of c.Relay.Domains, ignoring case.
func (c *Config) IsRelayDomain(domain string) bool {
	_, ok := c.RelayNextHop(domain)
	return ok
}

// RelayNextHop returns the next hop ("host:port") of a relay domain, ignoring case.
func (c *Config) RelayNextHop(domain string) (string, bool) {
	if hop, ok := c.Relay.Domains[domain]; ok {
		return hop, true
	}
	for d, hop := range c.Relay.Domains {
		if strings.EqualFold(d, domain) {
			return hop, true
		}
	}
	return "", false
}

// IsOurDomain reports whether domain is one the organisation owns: a local or a relay
// domain. Mail from these domains is "ours" for signing, DKIM, WKD and anti-spoofing.
func (c *Config) IsOurDomain(domain string) bool {
	return c.IsLocalDomain(domain) || c.IsRelayDomain(domain)
}

// TrustedPrefixes returns relay.trusted_networks parsed. A Config that passed Validate parses.
func (r Relay) TrustedPrefixes() []netip.Prefix { return prefixes(r.TrustedNetworks) }

// prefixes parses a list of networks (CIDR), each masked to its prefix; one that does not
// parse, which Validate reports, is left out.
func prefixes(list []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// MasterKeyPath returns the master key file: k.MasterKeyFile if set, else
// dataDir/master.key. It does not look at SEALGATE_MASTER_KEY_FILE; the
// command line applies that.
func (k Keys) MasterKeyPath(dataDir string) string {
	if k.MasterKeyFile != "" {
		return k.MasterKeyFile
	}
	return filepath.Join(dataDir, "master.key")
}
