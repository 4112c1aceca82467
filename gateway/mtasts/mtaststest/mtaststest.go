// Package mtaststest gives the tests of MTA-STS users (delivery, the TLS reporter) policies
// already found, without DNS and HTTPS (mtasts.Resolver's own tests find them so). It is
// test-only.
package mtaststest

import (
	"context"

	"github.com/sealgate/sealgate/gateway/mtasts"
)

// Policies are the policies of domains, as a resolver has found them; a domain not listed has
// none.
type Policies map[string]*mtasts.Policy

// Lookup returns the policy of domain, nil when it has none.
func (p Policies) Lookup(_ context.Context, domain string) *mtasts.Policy { return p[domain] }
