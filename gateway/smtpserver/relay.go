package smtpserver

import (
	"context"
	"net/netip"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/callout"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// Relay configures gateway mode: relay domains, whose mail goes to the organisation's own mail
// server, and the trusted networks of that server, which send outbound mail through the MX
// listener. The zero value has neither.
type Relay struct {
	// IsRelayDomain reports whether a (canonical) domain is a relay domain; nil: none is.
	IsRelayDomain func(domain string) bool
	// Trusted are the networks of the organisation's mail servers. On the MX listener their
	// clients may relay without AUTH for envelope senders in local and relay domains and for
	// the null sender.
	Trusted []netip.Prefix
	// Recipients checks relay-domain recipients at RCPT (a *callout.Checker); nil accepts all.
	Recipients RecipientChecker
}

// RecipientChecker asks a relay domain's next hop about a recipient.
type RecipientChecker interface {
	Check(ctx context.Context, rcpt address.Address) callout.Result
}

// calloutWait bounds how long RCPT waits for a callout; the checker has its own timeout.
const calloutWait = 30 * time.Second

// rcptClass is where a recipient's mail goes.
type rcptClass int

const (
	rcptLocal  rcptClass = iota // a local domain: the gateway's own mailboxes
	rcptRelay                   // a relay domain: the organisation's own mail server
	rcptRemote                  // any other domain (address literals included)
)

// classify says where mail for a goes. It is the one place that tells local, relay and other
// domains apart for the SMTP session.
func (s *Server) classify(a address.Address) rcptClass {
	switch {
	case a.IsLiteral():
		return rcptRemote
	case s.opts.IsLocalDomain(a.Domain):
		return rcptLocal
	case s.opts.Relay.IsRelayDomain != nil && s.opts.Relay.IsRelayDomain(a.Domain):
		return rcptRelay
	}
	return rcptRemote
}

// trusted reports whether ip is in a trusted network.
func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.opts.Relay.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// trustedSender reports whether a client in a trusted network sends as from ("" for the null
// sender): the organisation's own server sending for its users or its bounces.
func (s *session) trustedSender(from string) bool {
	if !s.trustedClient || s.srv.opts.Role != pipeline.RoleMX {
		return false
	}
	if from == "" {
		return true
	}
	a, err := address.Parse(from)
	return err == nil && s.srv.classify(a) != rcptRemote
}

// mayRelay reports whether the current transaction may send to other domains: an
// authenticated user on submission, or the organisation's own server with one of its senders.
func (s *session) mayRelay() bool {
	if s.srv.opts.Role == pipeline.RoleSubmission {
		return s.user != nil
	}
	return s.fromTrusted
}

// relayRcpt accepts a recipient in a relay domain unless the next hop says it does not exist.
func (s *session) relayRcpt(a address.Address) *reply {
	for _, r := range s.rcpts {
		if r.Relay && r.Address.Key() == a.Key() {
			return nil
		}
	}
	if c := s.srv.opts.Relay.Recipients; c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), calloutWait)
		defer cancel()
		if c.Check(ctx, a) == callout.NoSuchUser {
			s.logRefused("recipient", s.from, a.String(), replyUnknownUser)
			s.srv.metrics.rejected("550")
			return replyUnknownUser
		}
	}
	s.rcpts = append(s.rcpts, envelope.Recipient{Address: a, Relay: true})
	return nil
}
