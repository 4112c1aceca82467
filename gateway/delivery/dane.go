package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"

	"github.com/sealgate/sealgate/gateway/dane"
)

// DANEResolver answers the DNSSEC-authenticated questions of DANE (RFC 7672).
// *dane.Resolver implements it.
type DANEResolver interface {
	SecureMX(ctx context.Context, domain string) (bool, error)
	TLSA(ctx context.Context, host string, port int) ([]dane.TLSA, error)
}

var _ DANEResolver = (*dane.Resolver)(nil)

// applyDANE gives the MX hops of a domain whose MX answer is authenticated their TLSA
// records: such a host must be reached over TLS with a certificate the records accept. A host
// whose TLSA lookup fails is not used (RFC 7672 §2.2); hosts without records keep their
// policy. DANE takes precedence over MTA-STS for its hosts (RFC 8461 §2).
func (c *Client) applyDANE(ctx context.Context, domain string, hops []hop) ([]hop, error) {
	if c.opts.DANE == nil {
		return hops, nil
	}
	secure, err := c.opts.DANE.SecureMX(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("DANE: %w", err)
	}
	if !secure {
		return hops, nil
	}
	port, _ := strconv.Atoi(c.port())
	var out []hop
	var lastErr error
	for _, h := range hops {
		recs, err := c.opts.DANE.TLSA(ctx, h.host, port)
		if err != nil {
			lastErr = err
			c.log.Warn("DANE: TLSA lookup failed; MX host not used", "domain", domain, "mx", h.host, "err", err)
			h.policyType = PolicyTLSA
			c.recordTLS(h, "", "tlsa-invalid", err.Error())
			continue
		}
		if len(recs) > 0 {
			h.dane = recs
			h.tls = TLSRequired
			h.policyType = PolicyTLSA
			h.policyStrings = nil
			for _, r := range recs {
				h.policyStrings = append(h.policyStrings, fmt.Sprintf("%d %d %d %x", r.Usage, r.Selector, r.Matching, r.Data))
			}
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("DANE: %w", lastErr)
	}
	return out, nil
}

// daneConfig makes conf check the peer against the hop's TLSA records instead of the Web PKI.
func daneConfig(conf *tls.Config, h hop) {
	conf.InsecureSkipVerify = true
	recs, names := h.dane, []string{h.host}
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		return dane.Verify(recs, cs.PeerCertificates, names)
	}
}
