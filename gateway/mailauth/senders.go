package mailauth

import (
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
)

// SenderPolicy is the rule for mail from unauthenticated clients (the MX): which sender
// domains it may claim, and how the DMARC policy of the From: domain is enforced. It is the
// only place of that rule; Checker.Check applies it and the pipeline acts on Results.Verdict.
//
//  1. Mail authenticated as coming from an exempt domain (DMARCExempt) is delivered.
//  2. Mail whose envelope sender or any From: address is in a domain that is ours is refused
//     unless that domain is authenticated: SPF passes for an aligned MAIL FROM (or HELO)
//     domain, or a valid DKIM signature has an aligned d= (relaxed alignment, RFC 7489
//     §3.1). When DNS trouble (temperror) of such a check may be why, the refusal is
//     temporary.
//  3. DMARC fail with the effective policy reject refuses the message; quarantine delivers
//     it to the recipients' Junk folder. Every From: domain is checked, and a message that
//     names more than MaxAuthorDomains is refused.
type SenderPolicy struct {
	// Ours reports whether a domain is one the gateway answers for: its local domains, and
	// in gateway mode the domains it relays for. Compared as given (lower case, no trailing
	// dot). nil: no domain is ours and rule 2 is off.
	Ours func(domain string) bool
	// DMARCExempt are domains of mailing lists and forwarders that resend others' mail (so
	// that DMARC fails through no fault of theirs). A message is exempt when one of these
	// domains, or a subdomain, is authenticated: the MAIL FROM domain with SPF pass, or the
	// d= of a valid DKIM signature. Lower case.
	DMARCExempt []string
}

// Action is what to do with a message.
type Action int

// Actions, from mildest to hardest.
const (
	Deliver Action = iota // to the recipients' mailboxes as addressed
	Junk                  // to the recipients' Junk folders
	Defer                 // refuse for now (4xx): the verdict may change when DNS answers
	Reject                // refuse (5xx)
)

// Verdict is the sender policy's decision for one message.
type Verdict struct {
	Action Action
	// Reason says why for Junk, Defer and Reject, in words fit for the SMTP reply and the
	// log (it names only the sender's domain and the results).
	Reason string
}

// judge applies the policy to the results of the checks.
func (p SenderPolicy) judge(r Results) Verdict {
	if d := p.exemptDomain(r); d != "" {
		return Verdict{Action: Deliver, Reason: "from " + printable(d) + ", exempt from DMARC"}
	}
	if len(r.FromDomains) > MaxAuthorDomains {
		return Verdict{Action: Reject, Reason: "too many author domains in From:"}
	}
	if p.Ours != nil {
		claims := r.FromDomains
		if r.EnvelopeDomain != "" {
			claims = append([]string{r.EnvelopeDomain}, claims...)
		}
		for _, d := range claims {
			if !p.Ours(d) || authenticatedFor(r, d) {
				continue
			}
			if couldAuthenticate(r, d) {
				return Verdict{Action: Defer, Reason: "cannot authenticate the sender domain " + printable(d) + " now (DNS error)"}
			}
			return Verdict{Action: Reject, Reason: "unauthenticated mail from " + printable(d) + " is not accepted (no SPF pass or aligned DKIM signature)" + spfExplanation(r)}
		}
	}
	if r.DMARC == "fail" {
		switch dmarc.Policy(r.DMARCPolicy) {
		case dmarc.PolicyReject:
			return Verdict{Action: Reject, Reason: "DMARC policy of " + printable(r.DMARCFrom) + " rejects mail that fails authentication" + spfExplanation(r)}
		case dmarc.PolicyQuarantine:
			return Verdict{Action: Junk, Reason: "DMARC policy of " + printable(r.DMARCFrom) + " quarantines mail that fails authentication"}
		}
	}
	return Verdict{Action: Deliver}
}

// authenticatedFor: SPF or DKIM passed for a domain aligned (relaxed) with d.
func authenticatedFor(r Results, d string) bool { return alignedResult(r, d, SPFPass, "pass") }

// couldAuthenticate: an SPF or DKIM check that might have authenticated d failed on DNS
// trouble (temperror).
func couldAuthenticate(r Results, d string) bool {
	return alignedResult(r, d, SPFTempError, "temperror")
}

// alignedResult: SPF gave spf, or a DKIM signature gave dkim, for a domain aligned (relaxed)
// with d.
func alignedResult(r Results, d string, spf SPFResult, dkim string) bool {
	if r.SPF == spf && aligned(r.SPFDomain, d, dmarc.AlignmentRelaxed) {
		return true
	}
	for _, k := range r.DKIM {
		if k.Result == dkim && aligned(k.Domain, d, dmarc.AlignmentRelaxed) {
			return true
		}
	}
	return false
}

// exemptDomain returns the exempt domain the message is authenticated for, or "".
func (p SenderPolicy) exemptDomain(r Results) string {
	for _, e := range p.DMARCExempt {
		if r.SPF == SPFPass && r.EnvelopeDomain != "" && inDomain(r.EnvelopeDomain, e) {
			return e
		}
		for _, k := range r.DKIM {
			if k.Result == "pass" && inDomain(k.Domain, e) {
				return e
			}
		}
	}
	return ""
}

// inDomain: d is domain or one of its subdomains.
func inDomain(d, domain string) bool {
	d, domain = strings.ToLower(strings.TrimSuffix(d, ".")), strings.ToLower(strings.TrimSuffix(domain, "."))
	return d == domain || strings.HasSuffix(d, "."+domain)
}

// effectivePolicy is the DMARC policy that applies to a message from the From: domain from,
// whose record was found at recordDomain (RFC 7489 §6.6.3: sp= for a subdomain of the
// organizational domain). A record that asks for its policy on less than every message
// (pct=) gets the next milder policy on every message (§6.6.4 without sampling): no message
// is treated harder than the owner asked.
func effectivePolicy(rec *dmarc.Record, from, recordDomain string) dmarc.Policy {
	p := rec.Policy
	if from != recordDomain && rec.SubdomainPolicy != "" {
		p = rec.SubdomainPolicy
	}
	if rec.Percent != nil && *rec.Percent < 100 {
		switch p {
		case dmarc.PolicyReject:
			p = dmarc.PolicyQuarantine
		case dmarc.PolicyQuarantine:
			p = dmarc.PolicyNone
		}
	}
	return p
}

// maxReplyExplanation bounds the SPF explanation quoted in a reply line (RFC 5321 §4.5.3.1.5:
// 512 bytes for the whole line).
const maxReplyExplanation = 200

// spfExplanation quotes the sender domain's SPF explanation (exp=) for an SPF fail, in
// printable ASCII, for the reply to the client (RFC 7208 §6.2).
func spfExplanation(r Results) string {
	if r.SPF != SPFFail || r.SPFExplanation == "" {
		return ""
	}
	e := strings.Map(func(c rune) rune {
		if c < ' ' || c > '~' {
			return '?'
		}
		return c
	}, r.SPFExplanation)
	if len(e) > maxReplyExplanation {
		e = e[:maxReplyExplanation] + "..."
	}
	return "; SPF of " + printable(r.SPFDomain) + " says: " + e
}

// printable keeps a domain taken from a message fit for a reply line and a log.
func printable(d string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, d)
}
