// Package dane is the sending side of SMTP security via opportunistic DANE TLS (RFC 7672):
// TLSA records (RFC 6698), looked up through a validating resolver whose AD bit is trusted,
// decide whether an MX host must be reached over TLS and which certificate it must present.
//
// Only DANE-TA(2) and DANE-EE(3) records are usable for SMTP (RFC 7672 §3.1.3); PKIX-TA(0)
// and PKIX-EE(1) are not. A host with TLSA records none of which is usable still gets
// mandatory (unauthenticated) TLS. Records count only when the answer is authenticated (AD):
// an unsigned zone has no DANE. The resolver must be one the gateway trusts to validate —
// normally a local one ([dns] resolver = "127.0.0.1:53").
package dane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sealgate/sealgate/gateway/internal/dnsask"
)

// TLSA certificate usages, selectors and matching types (RFC 6698 §2.1, RFC 7218 names).
const (
	UsagePKIXTA = 0
	UsagePKIXEE = 1
	UsageDANETA = 2
	UsageDANEEE = 3

	SelectorCert = 0
	SelectorSPKI = 1

	MatchFull   = 0
	MatchSHA256 = 1
	MatchSHA512 = 2
)

// TLSA is one TLSA record.
type TLSA struct {
	Usage, Selector, Matching uint8
	Data                      []byte
}

// Usable reports whether an SMTP client may authenticate with r (RFC 7672 §3.1.3).
func (r TLSA) Usable() bool {
	return (r.Usage == UsageDANETA || r.Usage == UsageDANEEE) && r.Selector <= SelectorSPKI && r.Matching <= MatchSHA512
}

// ErrTemporary marks a lookup that failed (SERVFAIL, timeout): the host must not be used
// without its records (RFC 7672 §2.2).
var ErrTemporary = errors.New("dane: lookup failed")

// Resolver asks a validating resolver.
type Resolver struct {
	// Server is the resolver's "host:port".
	Server string
	// Timeout bounds one question; 0 is 5 seconds.
	Timeout time.Duration
}

// ask sends one question with DO and AD set, over UDP and then TCP when truncated.
func (r *Resolver) ask(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.AuthenticatedData = true
	m.SetEdns0(4096, true)
	resp, err := dnsask.Exchange(ctx, m, r.Server, r.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrTemporary, name, dns.TypeToString[qtype], err)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%w: %s %s: %s", ErrTemporary, name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode])
	}
	return resp, nil
}

// SecureMX reports whether domain's MX answer is authenticated (a signed zone): only then do
// its MX hosts' TLSA records apply (RFC 7672 §2.2.1).
func (r *Resolver) SecureMX(ctx context.Context, domain string) (bool, error) {
	resp, err := r.ask(ctx, domain, dns.TypeMX)
	if err != nil {
		return false, err
	}
	return resp.AuthenticatedData, nil
}

// TLSA returns the authenticated TLSA records of host's SMTP port, or none when the answer is
// not authenticated or there are none.
func (r *Resolver) TLSA(ctx context.Context, host string, port int) ([]TLSA, error) {
	name := "_" + strconv.Itoa(port) + "._tcp." + strings.TrimSuffix(host, ".")
	resp, err := r.ask(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, err
	}
	if !resp.AuthenticatedData || resp.Rcode != dns.RcodeSuccess {
		return nil, nil
	}
	var out []TLSA
	for _, rr := range resp.Answer {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		data, err := hex.DecodeString(t.Certificate)
		if err != nil {
			continue
		}
		out = append(out, TLSA{Usage: t.Usage, Selector: t.Selector, Matching: t.MatchingType, Data: data})
		if len(out) == 64 {
			break
		}
	}
	return out, nil
}

// matches reports whether cert matches r's selector and matching type.
func (r TLSA) matches(cert *x509.Certificate) bool {
	var data []byte
	switch r.Selector {
	case SelectorCert:
		data = cert.Raw
	case SelectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch r.Matching {
	case MatchSHA256:
		sum := sha256.Sum256(data)
		data = sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(data)
		data = sum[:]
	case MatchFull:
	default:
		return false
	}
	return bytes.Equal(data, r.Data)
}

// Verify checks the chain a server presented against records (RFC 7672 §3): a DANE-EE record
// matching the leaf (no name or expiry check, §3.1.1), or a DANE-TA record matching a
// certificate of the chain that the leaf chains to, with the leaf valid for one of names
// (the MX host name, then the destination domain, §3.2.2). No usable record: any chain.
func Verify(records []TLSA, chain []*x509.Certificate, names []string) error {
	if len(chain) == 0 {
		return errors.New("dane: no certificate presented")
	}
	usable := false
	for _, r := range records {
		if !r.Usable() {
			continue
		}
		usable = true
		if r.Usage == UsageDANEEE && r.matches(chain[0]) {
			return nil
		}
	}
	if !usable {
		return nil
	}
	for _, r := range records {
		if !r.Usable() || r.Usage != UsageDANETA {
			continue
		}
		for _, ta := range chain[1:] {
			if !r.matches(ta) {
				continue
			}
			roots := x509.NewCertPool()
			roots.AddCert(ta)
			inter := x509.NewCertPool()
			for _, c := range chain[1:] {
				inter.AddCert(c)
			}
			for _, n := range names {
				if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: n}); err == nil {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("dane: the certificate of %s matches none of its %d TLSA records", names[0], len(records))
}
