// Package dnsrecords says which DNS records a mail domain served by Sealgate needs, in
// zone-file form and as data, and compares them with what a resolver answers (`sealgate dns
// records` and `sealgate dns check`).
//
// For a domain D and the gateway's hostname H, the records are:
//
//	D                        MX     10 H.                          (RFC 5321 §5)
//	D                        TXT    "v=spf1 mx -all"               (RFC 7208)
//	H                        TXT    "v=spf1 a -all"                (the HELO identity)
//	SEL._domainkey.D         TXT    "v=DKIM1; k=rsa; p=..."        (RFC 6376, one per selector)
//	_dmarc.D                 TXT    "v=DMARC1; p=reject; ..."      (RFC 7489)
//	_mta-sts.D               TXT    "v=STSv1; id=..."              (RFC 8461 §3.1)
//	mta-sts.D                CNAME  H.                             (the policy host)
//	_smtp._tls.D             TXT    "v=TLSRPTv1; rua=mailto:..."   (RFC 8460)
//	_submissions._tcp.D      SRV    0 1 465 H.                     (RFC 8314 §5.1)
//	_submission._tcp.D       SRV    10 1 587 H.                    (RFC 6186)
//	_imaps._tcp.D, _imap._tcp.D, _pop3s._tcp.D, _pop3._tcp.D  SRV  (RFC 6186, 8314)
//	autoconfig.D             CNAME  H.                             (Thunderbird autoconfig)
//	autodiscover.D           CNAME  H.  and  _autodiscover._tcp.D SRV 0 1 443 H.  (Outlook)
//	openpgpkey.D             CNAME  H.                             (WKD, advanced method)
//
// A service whose listener is off is published as "0 0 0 ." — not offered (RFC 6186 §3.4) —
// so that clients do not guess. Implicit TLS comes before STARTTLS (RFC 8314 §5.1). A relay
// domain (no mailboxes here) gets the mail records only. The A/AAAA records of H and its PTR
// are the operator's: Sealgate does not know the public addresses.
//
// The MTA-STS record names, by its id, the policy the https listener serves (gateway.MTASTSPolicy):
// the id is derived from the policy text, so it changes exactly when the policy does.
package dnsrecords

import (
	"fmt"
	"strings"

	"github.com/sealgate/sealgate/gateway/mtasts"
)

// Record types published.
const (
	TypeMX    = "MX"
	TypeTXT   = "TXT"
	TypeSRV   = "SRV"
	TypeCNAME = "CNAME"
)

// DefaultTTL is the TTL of every record: an hour, short enough to correct a mistake the same
// day.
const DefaultTTL = 3600

// Record is one DNS record to publish. Value is the data in presentation form without the
// TXT splitting and quoting: the whole text for TXT, "10 mx.example.test." for MX,
// "0 1 587 mx.example.test." for SRV, "mx.example.test." for CNAME.
type Record struct {
	Name    string `json:"name"` // fully qualified, without the final dot
	Type    string `json:"type"`
	TTL     int    `json:"ttl"`
	Value   string `json:"value"`
	Purpose string `json:"purpose"`
	// Policy is the MTA-STS policy text served at https://mta-sts.D/.well-known/mta-sts.txt;
	// set on the _mta-sts TXT record only.
	Policy string `json:"policy,omitempty"`
}

// DKIM is a DKIM public key record as mailauth.DKIMKeys makes it.
type DKIM struct {
	Name  string // SELECTOR._domainkey.DOMAIN
	Value string // v=DKIM1; k=rsa; p=...
}

// Ports are the public port numbers of the services; 0 is a service not offered.
type Ports struct {
	Submission, Submissions, IMAP, IMAPS, POP3, POP3S, HTTPS int
}

// Options describe the domain.
type Options struct {
	Domain   string // the mail domain, lower case
	Hostname string // the gateway's name: MX and SRV target, CNAME target
	// Mailboxes: the domain is a local one (accounts here), so the access services, client
	// autoconfiguration and WKD are published; false for a relay domain.
	Mailboxes bool
	Ports     Ports
	DKIM      []DKIM
	// MTASTS is the MTA-STS policy the https listener serves on mta-sts.Domain
	// (gateway.MTASTSPolicy): its id goes into the _mta-sts record. nil: no MTA-STS records.
	MTASTS *mtasts.Policy
	// Reports is the address that receives DMARC and TLS-RPT reports (postmaster@Domain when
	// empty).
	Reports string
	TTL     int // DefaultTTL when 0
}

// Records returns every record o.Domain needs, in the order of the package doc.
func Records(o Options) []Record {
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	d, h := strings.TrimSuffix(o.Domain, "."), strings.TrimSuffix(o.Hostname, ".")
	host := h + "."
	reports := o.Reports
	if reports == "" {
		reports = "postmaster@" + d
	}
	var out []Record
	add := func(name, typ, value, purpose string) {
		out = append(out, Record{Name: name, Type: typ, TTL: ttl, Value: value, Purpose: purpose})
	}
	add(d, TypeMX, "10 "+host, "mail exchanger (RFC 5321)")
	add(d, TypeTXT, "v=spf1 mx -all", "SPF: only the MX hosts send mail from "+d+" (RFC 7208)")
	if h != d {
		add(h, TypeTXT, "v=spf1 a -all", "SPF of the HELO name "+h)
	}
	for _, k := range o.DKIM {
		add(k.Name, TypeTXT, k.Value, "DKIM public key (RFC 6376)")
	}
	add("_dmarc."+d, TypeTXT, "v=DMARC1; p=reject; rua=mailto:"+reports, "DMARC (RFC 7489)")
	if o.MTASTS != nil && o.MTASTS.Mode != mtasts.ModeNone {
		add("_mta-sts."+d, TypeTXT, "v=STSv1; id="+o.MTASTS.TextID(), "MTA-STS policy id (RFC 8461)")
		out[len(out)-1].Policy = o.MTASTS.Text()
		add("mta-sts."+d, TypeCNAME, host, "MTA-STS policy host: https://mta-sts."+d+"/.well-known/mta-sts.txt")
	}
	add("_smtp._tls."+d, TypeTXT, "v=TLSRPTv1; rua=mailto:"+reports, "TLS reporting (RFC 8460)")
	if !o.Mailboxes {
		return out
	}
	srv := func(service string, prio, port int, rfc string) {
		v := "0 0 0 ."
		if port != 0 {
			v = fmt.Sprintf("%d 1 %d %s", prio, port, host)
		}
		add("_"+service+"._tcp."+d, TypeSRV, v, service+" ("+rfc+")")
	}
	srv("submissions", 0, o.Ports.Submissions, "RFC 8314")
	srv("submission", 10, o.Ports.Submission, "RFC 6186")
	srv("imaps", 0, o.Ports.IMAPS, "RFC 8314")
	srv("imap", 10, o.Ports.IMAP, "RFC 6186")
	srv("pop3s", 0, o.Ports.POP3S, "RFC 8314")
	srv("pop3", 10, o.Ports.POP3, "RFC 6186")
	add("autoconfig."+d, TypeCNAME, host, "Thunderbird autoconfig")
	add("autodiscover."+d, TypeCNAME, host, "Outlook autodiscover")
	srv("autodiscover", 0, o.Ports.HTTPS, "Outlook autodiscover")
	add("openpgpkey."+d, TypeCNAME, host, "WKD, advanced method (draft-koch-openpgp-webkey-service)")
	return out
}
