package gateway

import (
	"github.com/sealgate/sealgate/gateway/callout"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/smtpserver"
)

// withRelayRoutes returns [outbound] with the next hops of relay domains added to its routes:
// the queue delivers relay-domain mail like mail for a routed domain.
func withRelayRoutes(cfg *config.Config) config.Outbound {
	o := cfg.Outbound
	o.Routes = make(map[string]string, len(cfg.Outbound.Routes)+len(cfg.Relay.Domains))
	for d, hop := range cfg.Outbound.Routes {
		o.Routes[d] = hop
	}
	for d, hop := range cfg.Relay.Domains {
		o.Routes[d] = hop
	}
	return o
}

// relayOptions builds gateway mode for the SMTP servers from [relay]: relay domains, trusted
// networks and, with recipient_check = "callout", the checker that asks next hops.
func (g *Gateway) relayOptions() (smtpserver.Relay, error) {
	cfg := g.cfg
	r := smtpserver.Relay{IsRelayDomain: cfg.IsRelayDomain, Trusted: cfg.Relay.TrustedPrefixes()}
	if len(cfg.Relay.Domains) == 0 || cfg.Relay.RecipientCheck != config.RecipientCheckCallout {
		return r, nil
	}
	c, err := callout.New(callout.Options{
		Hostname: cfg.Hostname, NextHop: cfg.RelayNextHop, Now: g.now, Logger: g.log,
	})
	if err != nil {
		return r, err
	}
	r.Recipients = c
	return r, nil
}
