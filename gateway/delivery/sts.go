package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/sealgate/sealgate/gateway/mtasts"
)

// STSResolver finds the MTA-STS policy (RFC 8461) in force for a destination domain; nil is
// none. *mtasts.Resolver implements it.
type STSResolver interface {
	Lookup(ctx context.Context, domain string) *mtasts.Policy
}

var _ STSResolver = (*mtasts.Resolver)(nil)

// applySTS applies domain's MTA-STS policy to its MX hops (RFC 8461 §5): under "enforce" only
// the MX hosts the policy names are tried, each with STARTTLS and a certificate valid for its
// name (TLSVerify); when it names none of them the attempt fails temporarily. Under "testing"
// every hop is tried as before, and what enforce would refuse is logged.
func (c *Client) applySTS(ctx context.Context, domain string, hops []hop) ([]hop, error) {
	if c.opts.STS == nil {
		return hops, nil
	}
	p := c.opts.STS.Lookup(ctx, domain)
	if p == nil || p.Mode == mtasts.ModeNone {
		return hops, nil
	}
	var out []hop
	for _, h := range hops {
		if h.dane != nil { // DANE decides for this host
			out = append(out, h)
			continue
		}
		h.policyType, h.policyStrings = PolicySTS, stsPolicyStrings(p)
		match := p.MatchMX(h.host)
		switch {
		case p.Mode == mtasts.ModeEnforce && match:
			h.tls = TLSVerify
			out = append(out, h)
		case p.Mode == mtasts.ModeEnforce:
			c.log.Warn("MTA-STS: MX host not in the domain's policy, not used", "domain", domain, "mx", h.host)
			c.recordTLS(h, "", "validation-failure", "MX host not named by the MTA-STS policy")
		default:
			if !match {
				c.log.Warn("MTA-STS testing: MX host not in the domain's policy; delivering anyway", "domain", domain, "mx", h.host)
			}
			h.stsTesting = true
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the MTA-STS policy of %s (enforce) names none of its MX hosts", domain)
	}
	return out, nil
}

// reportSTSTesting logs, for a hop under an MTA-STS testing policy, what enforce mode would
// have refused: no TLS, or a certificate that does not verify for the host name. It returns
// that refusal as an RFC 8460 result type and its detail ("" when enforce would accept).
func (s *session) reportSTSTesting(h hop, state *tls.ConnectionState) (failure, detail string) {
	if !h.stsTesting || h.tls == TLSVerify || h.dane != nil {
		return "", ""
	}
	if state == nil {
		s.c.log.Warn("MTA-STS testing: delivered without TLS; enforce would refuse", "mx", h.host)
		return "", "" // reported as starttls-not-supported already
	}
	opts := x509.VerifyOptions{DNSName: h.host, Roots: s.c.opts.RootCAs, Intermediates: x509.NewCertPool()}
	for _, c := range state.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := state.PeerCertificates[0].Verify(opts); err != nil {
		s.c.log.Warn("MTA-STS testing: the certificate does not verify; enforce would refuse", "mx", h.host, "err", err)
		return tlsFailure(err), err.Error()
	}
	return "", ""
}
