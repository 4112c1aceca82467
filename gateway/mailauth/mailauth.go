// Package mailauth authenticates inbound mail and signs outbound mail: SPF (RFC 7208, our own
// implementation: go-msgauth has none), DKIM (RFC 6376, verification and signing with
// github.com/emersion/go-msgauth), DMARC (RFC 7489: the record from go-msgauth, alignment here
// with the public suffix list), and the Authentication-Results header (RFC 8601).
//
// Checks work on the bytes as received and never fail the message: every outcome, including
// DNS trouble (temperror), is a result that goes into Authentication-Results. DNS goes
// through a Resolver that the caller supplies; every check of one message shares one deadline.
package mailauth

import (
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
)

// Checker runs the inbound checks.
type Checker struct {
	Resolver Resolver
	// Timeout bounds all DNS work for one message [10s].
	Timeout time.Duration
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
	SPF         SPFResult
	SPFReason   string
	SPFDomain   string // the domain SPF was checked for
	DKIM        []DKIMOutcome
	DMARC       string // pass, fail, none, temperror, permerror
	DMARCFrom   string // the From: domain
	DMARCPolicy string
}

// MaxHeader is how much of a message read through Input.Open is searched for the From: field.
const MaxHeader = 1 << 20

// Check runs SPF, DKIM and DMARC.
func (c *Checker) Check(ctx context.Context, in Input) Results {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r Results
	r.SPF, r.SPFReason = CheckSPF(ctx, c.Resolver, in.IP, in.Helo, in.MailFrom)
	r.SPFDomain = in.Helo
	if at := strings.LastIndexByte(in.MailFrom, '@'); at >= 0 {
		r.SPFDomain = strings.ToLower(in.MailFrom[at+1:])
	}

	lookupTXT := func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) }
	msg, header := io.Reader(bytes.NewReader(in.Message)), in.Message
	if in.Message == nil && in.Open != nil {
		msg = in.Open()
		if in.Header == nil {
			// Only the header section is needed for DMARC; MaxHeader bounds it.
			header, _ = io.ReadAll(io.LimitReader(in.Open(), MaxHeader))
		}
	}
	var from string
	var fromOK bool
	if in.Header != nil {
		from, fromOK = fromDomainOf(in.Header)
	} else {
		from, fromOK = fromDomain(header)
	}
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

	r.DMARC, r.DMARCFrom, r.DMARCPolicy = c.dmarc(lookupTXT, from, fromOK, r)
	return r
}

// fromDomain returns the domain of the single From: address.
func fromDomain(msg []byte) (string, bool) {
	hdrEnd := bytes.Index(msg, []byte("\r\n\r\n"))
	if hdrEnd < 0 {
		hdrEnd = len(msg)
	}
	m, err := mail.ReadMessage(bytes.NewReader(append(append([]byte(nil), msg[:hdrEnd]...), "\r\n\r\n"...)))
	if err != nil {
		return "", false
	}
	return fromDomainOf(textproto.MIMEHeader(m.Header))
}

// fromDomainOf is the RFC5322.From domain (DMARC, RFC 7489 §6.6.1): a message with other than
// exactly one From: address has none.
func fromDomainOf(h textproto.MIMEHeader) (string, bool) {
	froms := h["From"]
	if len(froms) != 1 {
		return "", false
	}
	list, err := (&mail.AddressParser{}).ParseList(froms[0])
	if err != nil || len(list) != 1 {
		return "", false
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	if at < 0 {
		return "", false
	}
	return strings.ToLower(strings.TrimSuffix(list[0].Address[at+1:], ".")), true
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

// dmarc evaluates the policy of the From: domain (from; ok false when the message has no
// single From: address).
func (c *Checker) dmarc(lookupTXT func(string) ([]string, error), from string, ok bool, r Results) (result, domain, policy string) {
	if !ok {
		return "permerror", "", ""
	}
	opts := &dmarc.LookupOptions{LookupTXT: lookupTXT}
	rec, err := dmarc.LookupWithOptions(from, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := orgDomain(from); org != from {
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
	if pass {
		return "pass", from, string(rec.Policy)
	}
	return "fail", from, string(rec.Policy)
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
