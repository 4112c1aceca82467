// Package dnsask sends one DNS question to a named resolver the way every DNS client of the
// gateway does (DANE's validating lookups, the record checks): over UDP, and again over TCP
// when the answer comes back truncated, each try bounded by a timeout.
package dnsask

import (
	"context"
	"time"

	"github.com/miekg/dns"
)

// DefaultTimeout bounds one try when the caller sets no timeout.
const DefaultTimeout = 5 * time.Second

// Exchange sends m to server ("host:port") and returns its answer, whatever its Rcode. A
// timeout of 0 is DefaultTimeout.
func Exchange(ctx context.Context, m *dns.Msg, server string, timeout time.Duration) (*dns.Msg, error) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	c := &dns.Client{Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	return resp, err
}
