package smtpserver_test

import (
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

// dialFrom opens an SMTP session from the loopback address local (127.0.0.2 plays the
// organisation's own mail server in a trusted network, 127.0.0.1 the Internet).
func dialFrom(t *testing.T, local, addr string) *smtp.Client {
	t.Helper()
	return wiretest.SMTPFrom(t, local, addr)
}

// The relay tricks of the MX tests, against a relay domain: no client, trusted or not, and no
// sender, ours or not, gets a foreign recipient through, and tricks on the relay domain are
// addresses the internal server refuses.
func TestNoOpenRelayForRelayDomain(t *testing.T) {
	internal := deliverytest.Start(t, deliverytest.Options{KnownRecipients: []string{"alice@corp.test"}})
	env := start(t, func(c *config.Config) {
		c.Relay.Domains = map[string]string{"corp.test": internal.Addr}
		c.Relay.TrustedNetworks = []string{"127.0.0.2/32"}
	})
	for _, who := range []struct{ name, ip, from string }{
		{"internet", "127.0.0.1", "spammer@example.org"},
		{"internet as ours", "127.0.0.1", "alice@corp.test"},
		{"internet as null", "127.0.0.1", ""},
		{"trusted for a foreign sender", "127.0.0.2", "spammer@example.org"},
	} {
		for _, tc := range relayTricks("corp.test") {
			t.Run(who.name+"/"+tc.rcpt, func(t *testing.T) {
				c := dialFrom(t, who.ip, env.GW.Addr("smtp"))
				if err := c.Mail(who.from, nil); err != nil {
					t.Fatal(err)
				}
				wantCode(t, c.Rcpt(tc.rcpt, nil), tc.code, tc.enhanced)
			})
		}
	}
	// The internal server relays for its own senders; the Internet reaches relay-domain users.
	c := dialFrom(t, "127.0.0.2", env.GW.Addr("smtp"))
	if err := c.Mail("alice@corp.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("victim@example.org", nil); err != nil {
		t.Fatalf("trusted network, our sender: %v", err)
	}
	c = dialFrom(t, "127.0.0.1", env.GW.Addr("smtp"))
	if err := c.Mail("someone@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("Alice@CORP.test", nil); err != nil {
		t.Fatalf("relay-domain user: %v", err)
	}
	if n := queueLen(t, env); n != 0 {
		t.Fatalf("%d messages queued", n)
	}
}
