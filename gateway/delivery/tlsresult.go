package delivery

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sealgate/sealgate/gateway/mtasts"
)

// TLSRecorder receives the outcome of the TLS negotiation of every session with an MX host,
// for TLS reporting (RFC 8460). It must be safe for concurrent use and must not block.
type TLSRecorder interface {
	RecordTLS(TLSResult)
}

// Policy types of RFC 8460 §4.3.
const (
	PolicySTS      = "sts"
	PolicyTLSA     = "tlsa"
	PolicyNotFound = "no-policy-found"
)

// TLSResult is one session's TLS outcome with an MX host of Domain.
type TLSResult struct {
	Domain string
	// PolicyType is PolicySTS, PolicyTLSA or PolicyNotFound; PolicyStrings the policy in
	// force as RFC 8460 §4.4 writes it (the MTA-STS policy's lines, the TLSA records).
	PolicyType    string
	PolicyStrings []string
	MXHost        string
	IP            string // the receiving MX host's address; "" when none was reached
	// Failure is "" for an established TLS session, else an RFC 8460 §4.3 result type
	// ("certificate-host-mismatch", "starttls-not-supported", ...).
	Failure string
	// Detail says more about a failure (an additional-information string); never sent
	// anywhere but the report to the domain's own rua.
	Detail string
}

// stsPolicyStrings is p as the lines of its policy file (RFC 8460 §4.4: policy-string).
func stsPolicyStrings(p *mtasts.Policy) []string {
	out := []string{"version: STSv1", "mode: " + p.Mode}
	for _, mx := range p.MX {
		out = append(out, "mx: "+mx)
	}
	return append(out, fmt.Sprintf("max_age: %d", int64(p.MaxAge/time.Second)))
}

// recordTLS reports one session's outcome with an MX hop (routes and the smarthost are not
// reported: they are the operator's own arrangements, not the domain's policy).
func (c *Client) recordTLS(h hop, addr, failure, detail string) {
	if c.opts.TLSReports == nil || h.policyType == "" {
		return
	}
	ip, _, err := net.SplitHostPort(addr)
	if err != nil {
		ip = addr
	}
	c.opts.TLSReports.RecordTLS(TLSResult{
		Domain: h.domain, PolicyType: h.policyType, PolicyStrings: h.policyStrings,
		MXHost: h.host, IP: ip, Failure: failure, Detail: detail,
	})
}

// tlsFailure classifies a failed TLS handshake or certificate check as an RFC 8460 §4.3
// result type.
func tlsFailure(err error) string {
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &host):
		return "certificate-host-mismatch"
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "certificate-expired"
	case errors.As(err, &unknown):
		return "certificate-not-trusted"
	}
	return "validation-failure" // DANE mismatches included

}
