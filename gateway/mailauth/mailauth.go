// Package mailauth authenticates inbound mail and signs outbound mail: SPF (RFC 7208, our own
// implementation: go-msgauth has none), DKIM (RFC 6376, verification and signing with
// github.com/emersion/go-msgauth), DMARC (RFC 7489: the record from go-msgauth, alignment here
// with the public suffix list), and the Authentication-Results header (RFC 8601).
//
// Checks work on the bytes as received and never fail the message: every outcome, including
// DNS trouble (temperror), is a result that goes into Authentication-Results. DNS goes
// through a Resolver that the caller supplies; every check of one message shares one deadline.
//
// What happens to a message because of its results is decided here too, in one place:
// SenderPolicy (spoofing of our own domains, DMARC enforcement) gives Results.Verdict, and the
// pipeline acts on it. ParseAuthservID reads the authserv-id of Authentication-Results with the
// RFC 8601 grammar, for removing forged results and for readers of the gateway's own.
package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// Checker runs the inbound checks.
type Checker struct {
	Resolver Resolver
	// Timeout bounds all DNS work for one message [10s].
	Timeout time.Duration
	// Senders decides from the results what happens to the message (Results.Verdict).
	Senders SenderPolicy
	// Receiver is this host's name, for SPF explanations (%{r}); "" is "unknown".
	Receiver string
}

// Input is one received message.
type Input struct {
	IP       netip.Addr
	Helo     string
	MailFrom string // "" for the null sender
	Message  []byte // the message as received, header and body
	// Open, when Message is nil, reads the message as received from the start; it may be
	// called more than once. Large messages are checked from it without being held in memory.
	Open func() io.Reader
	// Header is the message's header section, parsed, when the caller has it already (the
	// From: field is read from it); nil parses it from Message or Open.
	Header textproto.MIMEHeader
}

// DKIMOutcome is the result of one DKIM signature.
type DKIMOutcome struct {
	Result   string // pass, fail, neutral, temperror, permerror
	Domain   string
	Selector string
	Reason   string
}

// Results are the outcomes for one message.
type Results struct {
	SPF       SPFResult
	SPFReason string
	SPFDomain string // the domain SPF was checked for
	// SPFExplanation is the sender domain's exp= text for an SPF fail (sender-controlled).
	SPFExplanation string
	DKIM           []DKIMOutcome
	DMARC          string // pass, fail, none, temperror, permerror
	DMARCFrom      string // the From: domain
	// DMARCPolicy is the policy that applies to this message (sp= for a subdomain, milder
	// when pct= is below 100): none, quarantine, reject; "" without a record.
	DMARCPolicy string
	// EnvelopeDomain is the MAIL FROM domain; "" for the null sender.
	EnvelopeDomain string
	// FromDomains are the domains of every address in every From: field (the claims a
	// reader sees), lower case, without duplicates.
	FromDomains []string
	// Verdict is what Checker.Senders decides about the message.
	Verdict Verdict
}

// Check runs SPF, DKIM and DMARC.
func (c *Checker) Check(ctx context.Context, in Input) Results {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r Results
	spf := SPFQuery{IP: in.IP, Helo: in.Helo, MailFrom: in.MailFrom, Receiver: c.Receiver}.Check(ctx, c.Resolver)
	r.SPF, r.SPFReason, r.SPFExplanation = spf.Result, spf.Reason, spf.Explanation
	r.SPFDomain = in.Helo
	if at := strings.LastIndexByte(in.MailFrom, '@'); at >= 0 {
		r.SPFDomain = strings.ToLower(strings.TrimSuffix(in.MailFrom[at+1:], "."))
		r.EnvelopeDomain = r.SPFDomain
	}

	lookupTXT := func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) }
	msg, header := io.Reader(bytes.NewReader(in.Message)), in.Message
	if in.Message == nil && in.Open != nil {
		msg = in.Open()
		if in.Header == nil {
			// Only the header section is needed for DMARC, within the module's one bound; the
			// body is read once, by DKIM.
			header, _ = mimeutil.ReadHeaderSection(bufio.NewReader(in.Open()), mimeutil.MaxHeaderSize)
		}
	}
	h := in.Header
	if h == nil {
		h = parseHeader(header)
	}
	r.FromDomains = fromDomainsOf(h)
	verifs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{LookupTXT: lookupTXT, MaxVerifications: 5})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		r.DKIM = append(r.DKIM, DKIMOutcome{Result: "permerror", Reason: "unparsable message"})
	}
	for _, v := range verifs {
		o := DKIMOutcome{Result: "pass", Domain: strings.ToLower(v.Domain)}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			o.Result, o.Reason = "temperror", v.Err.Error()
		case dkim.IsPermFail(v.Err):
			o.Result, o.Reason = "permerror", v.Err.Error()
		default:
			o.Result, o.Reason = "fail", v.Err.Error()
		}
		r.DKIM = append(r.DKIM, o)
	}

	r.DMARC, r.DMARCFrom, r.DMARCPolicy = c.dmarcAuthors(lookupTXT, r)
	r.Verdict = c.Senders.judge(r)
	return r
}

// parseHeader parses the header section at the start of msg; nil when it does not parse.
func parseHeader(msg []byte) textproto.MIMEHeader {
	h, err := mimeutil.ParseTextprotoHeader(msg)
	if err != nil {
		return nil
	}
	return h
}

// fromDomainsOf returns the domain of every From: address. A field that does not parse as an
// address list is searched for "@domain" instead, so that a malformed field still counts as
// the claim a lenient reader would see in it.
func fromDomainsOf(h textproto.MIMEHeader) []string {
	var out []string
	add := func(d string) {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		for _, o := range out {
			if o == d {
				return
			}
		}
		if d != "" && len(out) < 100 {
			out = append(out, d)
		}
	}
	for _, f := range h["From"] {
		if list, err := (&mail.AddressParser{}).ParseList(f); err == nil {
			for _, a := range list {
				if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
					add(a.Address[at+1:])
				}
			}
			continue
		}
		for rest := f; ; {
			at := strings.IndexByte(rest, '@')
			if at < 0 {
				break
			}
			rest = rest[at+1:]
			end := strings.IndexFunc(rest, func(c rune) bool {
				return !(c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80)
			})
			if end < 0 {
				end = len(rest)
			}
			add(rest[:end])
		}
	}
	return out
}

func orgDomain(d string) string {
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

func aligned(a, b string, mode dmarc.AlignmentMode) bool {
	if mode == dmarc.AlignmentStrict {
		return strings.EqualFold(a, b)
	}
	return strings.EqualFold(orgDomain(a), orgDomain(b))
}

// MaxAuthorDomains bounds the From: domains whose DMARC policies a message is checked
// against; SenderPolicy refuses a message that names more.
const MaxAuthorDomains = 5

// dmarcAuthors evaluates DMARC for every From: domain (RFC 7489 §6.6.1 leaves messages with
// several authors to the receiver; checking one, or none, would let a second address carry a
// forged one through) and reports the worst outcome. A message without a From: domain is a
// permerror.
func (c *Checker) dmarcAuthors(lookupTXT func(string) ([]string, error), r Results) (result, domain, policy string) {
	if len(r.FromDomains) == 0 || len(r.FromDomains) > MaxAuthorDomains {
		return "permerror", "", ""
	}
	worst := 0
	for _, from := range r.FromDomains {
		res, dom, pol := c.dmarc(lookupTXT, from, r)
		if k := dmarcRank(res, pol); k > worst {
			worst, result, domain, policy = k, res, dom, pol
		}
	}
	return result, domain, policy
}

// dmarcRank orders DMARC outcomes from the best (pass) to the worst (a fail of p=reject).
func dmarcRank(result, policy string) int {
	switch {
	case result == "fail" && policy == string(dmarc.PolicyReject):
		return 7
	case result == "fail" && policy == string(dmarc.PolicyQuarantine):
		return 6
	case result == "fail":
		return 5
	case result == "temperror":
		return 4
	case result == "permerror":
		return 3
	case result == "none":
		return 2
	}
	return 1
}

// dmarc evaluates the policy of one From: domain.
func (c *Checker) dmarc(lookupTXT func(string) ([]string, error), from string, r Results) (result, domain, policy string) {
	opts := &dmarc.LookupOptions{LookupTXT: lookupTXT}
	recordDomain := from
	rec, err := dmarc.LookupWithOptions(from, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := orgDomain(from); org != from {
			recordDomain = org
			rec, err = dmarc.LookupWithOptions(org, opts)
		}
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		return "none", from, ""
	case dmarc.IsTempFail(err):
		return "temperror", from, ""
	case err != nil:
		return "permerror", from, ""
	}
	pass := r.SPF == SPFPass && aligned(r.SPFDomain, from, rec.SPFAlignment)
	for _, d := range r.DKIM {
		pass = pass || (d.Result == "pass" && aligned(d.Domain, from, rec.DKIMAlignment))
	}
	policy = string(effectivePolicy(rec, from, recordDomain))
	if pass {
		return "pass", from, policy
	}
	return "fail", from, policy
}

// AuthResults returns the Authentication-Results field body for these results, plus extra
// results (such as RFC 7281 smime=) added by later stages.
func (r Results) AuthResults(authservID string, extra ...authres.Result) string {
	var rs []authres.Result
	rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(r.SPF), From: r.SPFDomain})
	if len(r.DKIM) == 0 {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range r.DKIM {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultValue(d.Result), Domain: d.Domain})
	}
	rs = append(rs, &authres.DMARCResult{Value: authres.ResultValue(r.DMARC), From: r.DMARCFrom})
	rs = append(rs, extra...)
	return authres.Format(authservID, rs)
}
