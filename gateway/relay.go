package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/sealgate/sealgate/gateway/callout"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/smtpserver"
)

// dialNextHop connects to "host:port", looking the host up with the resolver that delivery
// uses ([dns] resolver), so the callout reaches the same server the queue delivers to.
func (g *Gateway) dialNextHop(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if _, err := netip.ParseAddr(host); err == nil {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := g.resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		var c net.Conn
		if c, err = d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port)); err == nil {
			return c, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("%s has no address", host)
	}
	return nil, err
}

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
		Hostname: cfg.Hostname, NextHop: cfg.RelayNextHop, Now: g.now, Logger: g.log, Dial: g.dialNextHop,
	})
	if err != nil {
		return r, err
	}
	r.Recipients = c
	return r, nil
}
