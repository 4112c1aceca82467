package gateway

import (
	"github.com/sealgate/sealgate/gateway/callout"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/smtpserver"
)

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
