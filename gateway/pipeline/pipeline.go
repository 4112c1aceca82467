// Package pipeline is the one place between SMTP DATA and durable storage where a message is
// processed: every message the gateway accepts, from the MX listener, from submission, and
// later from web mail compose, goes through Process.
//
// Process, in order:
//  1. reads the header section (at most mimeutil.MaxHeaderSize bytes) and checks it: on submission
//     every From: address must be one the authenticated user owns; submitted mail without
//     Message-ID: or Date: gets them, and an Autocrypt: header when the sender has an
//     OpenPGP key; a MIME structure beyond mimelimit's bounds is refused
//     (ErrStructureTooComplex);
//  2. on the MX listener, runs SPF, DKIM and DMARC on the bytes as received and acts on the
//     verdict of mailauth.SenderPolicy: refuses the message (SenderError) or delivers the
//     local copies to Junk;
//  3. removes every Sealgate-Security header that came from outside, and every
//     Authentication-Results header that claims to be ours;
//  4. asks the policy engine (policy.Decide) for each recipient — decrypt, verify, sign,
//     encrypt, or reject — and groups recipients whose decisions are equal: each group gets
//     one transformed copy. A rejection for any recipient refuses the whole message
//     (RejectError) before anything is stored;
//  5. transforms each copy with crypto/pgpmime and crypto/smime (in memory, or streamed through
//     encrypted msgbuf spills for messages above StreamThreshold), DKIM-signs copies
//     for other domains after every crypto transform, and adds Sealgate-Security and
//     Authentication-Results to copies for local mailboxes;
//  6. stores every copy in one atomic, durable mailstore.Deliver. A local recipient whose
//     mailbox the message would take past its quota is left out and its sender notified
//     (a DSN stored in the same Deliver); when every recipient is, the message is refused
//     with the store's mailstore.ErrOverQuota (quota.go).
//
// Gateway mode (relay.go): a recipient in a relay domain (Recipient.Relay) is decided like a
// local one (inbound), and its copy, with the result headers and TraceHeader, is spooled for
// the domain's next hop instead of a mailbox. Mail from the organisation's own server for one
// of its senders (Envelope.TrustedSender) is decided like submitted mail. A message with more
// than MaxHops Received: headers, or handed to the internal server MaxRelayPasses times
// already, is refused with ErrLoop.
//
// Plaintext that the policy encrypts is only in memory (and in msgbuf's encrypted spill) until
// it is encrypted. Bytes that are not transformed are not touched: header fields are only
// prepended or removed, so signatures over the original stay valid. Errors are ours
// (ErrSenderNotOwned, ErrHeaderTooLarge, ErrMalformedHeader, ErrLoop, RejectError,
// ErrPolicyNotApplied) or the store's; the SMTP server translates them into replies.
package pipeline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/mimecrypt"
	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/keys"
	"github.com/sealgate/sealgate/policy"
)

// SenderError is mail refused by the sender authentication rule (mailauth.SenderPolicy):
// Verdict.Action is mailauth.Reject or mailauth.Defer.
type SenderError struct {
	Verdict mailauth.Verdict
}

func (e *SenderError) Error() string {
	return "pipeline: sender not authenticated: " + e.Verdict.Reason
}

// Errors that reject a message permanently.
var (
	ErrSenderNotOwned  = errors.New("pipeline: From: address not owned by the authenticated user")
	ErrHeaderTooLarge  = errors.New("pipeline: header section too large")
	ErrMalformedHeader = errors.New("pipeline: malformed header section")
	// ErrContentTooLarge is a message that decodes to more than Options.MaxMessageSize (a
	// compression bomb): refused, nothing stored.
	ErrContentTooLarge = errors.New("pipeline: decoded content exceeds the message size limit")
	// ErrStructureTooComplex is a message whose MIME structure exceeds mimelimit's depth or
	// part bounds: refused, as no client could show it and every parser would pay for it.
	ErrStructureTooComplex = errors.New("pipeline: MIME structure exceeds the depth or part limits")
)

// Role is the listener a message arrived on.
type Role int

// Roles.
const (
	RoleMX         Role = iota // Internet-facing: local recipients only
	RoleSubmission             // own users, authenticated
)

// Envelope is what the SMTP transaction established about a message.
type Envelope struct {
	ID         string // transaction id: in Received: and logs
	Role       Role
	RemoteIP   netip.Addr
	Helo       string
	TLS        bool
	UTF8       bool            // SMTPUTF8 was given
	AuthUser   *mailstore.User // the authenticated account, nil on MX
	MailFrom   string          // "" for the null sender
	Recipients []envelope.Recipient
	ReceivedAt time.Time

	// TrustedClient: the client is in [relay] trusted_networks, the organisation's own mail
	// server. SPF, DKIM and DMARC are not checked (that server received the mail and did).
	TrustedClient bool
	// TrustedSender: TrustedClient, and the envelope sender is in a local or relay domain or
	// null. The message gets the outbound treatment of submitted mail (signing, encryption per
	// recipient, Autocrypt, DKIM, refusal when required) without AUTH or a From: check.
	TrustedSender bool
}

// Deliverer is the store side of the pipeline.
type Deliverer interface {
	mailstore.Deliverer
}

// PolicySource supplies the stored policy settings (mailstore.Store implements it).
type PolicySource interface {
	mailstore.PolicySource
}

// Options configure a Pipeline. Zero values disable the part they name.
type Options struct {
	Hostname string // this gateway's name in Received:, Message-ID: and Authentication-Results:
	Store    Deliverer
	Logger   *slog.Logger // nil: slog.Default()
	Now      func() time.Time
	// Policy and Keys enable the security stage; without them mail passes unchanged.
	Policy PolicySource
	Keys   keys.Lookup
	// Auth runs SPF, DKIM and DMARC on mail from the MX listener.
	Auth *mailauth.Checker
	// DKIM signs mail for other domains with the sender domain's key, when it has one.
	DKIM *mailauth.DKIMKeys
	// SpillDir is where transformed copies of messages larger than StreamThreshold spill
	// (encrypted); "" means os.TempDir().
	SpillDir string
	// WKD looks up keys of remote recipients that the keyring lacks, when outbound encryption
	// is possible; found keys are harvested. nil: no lookups.
	WKD WKDLookup
	// Subaddressing is the sub-address rule (addressing.Directory.Rule) for the addresses no
	// Directory resolved: senders, recipients in other domains, and those Explain is given.
	// Zero: none.
	Subaddressing address.Subaddressing
	// Bouncer makes the notification to the sender for local recipients whose mailbox is
	// full, when the message is stored for the others (quota.go). nil: they get none.
	Bouncer Bouncer
	// MaxMessageSize ([limits] max_message_size) bounds what decoding a message may produce:
	// a message whose decrypted and decompressed plaintext exceeds it is refused
	// (ErrContentTooLarge). 0 means pgpmime.DefaultMaxPlaintext.
	MaxMessageSize int64
}

// Pipeline processes accepted messages.
type Pipeline struct {
	opts Options
}

// New returns a Pipeline.
func New(opts Options) *Pipeline {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Pipeline{opts: opts}
}

// Process runs msg through the pipeline and stores it; see the package doc. When it returns
// nil every copy is durable.
func (p *Pipeline) Process(ctx context.Context, env *Envelope, msg *msgbuf.Buffer) (mailstore.Delivered, error) {
	hdr, err := readHeader(msg.NewReader())
	var ok bool
	if err != nil {
		return mailstore.Delivered{}, err
	}
	if err := p.checkLoop(hdr); err != nil {
		return mailstore.Delivered{}, err
	}
	if err := mimelimit.Check(msg.NewReader()); errors.Is(err, mimelimit.ErrExceeded) {
		return mailstore.Delivered{}, ErrStructureTooComplex
	}
	var added bytes.Buffer
	submitted := env.submitted()
	if submitted {
		if env.Role == RoleSubmission {
			if err := checkFromOwned(env.AuthUser, hdr, p.opts.Subaddressing); err != nil {
				return mailstore.Delivered{}, err
			}
		}
		if hdr.Get("Message-Id") == "" {
			fmt.Fprintf(&added, "Message-ID: <%s@%s>\r\n", randomID(), p.opts.Hostname)
		}
		if hdr.Get("Date") == "" {
			fmt.Fprintf(&added, "Date: %s\r\n", env.ReceivedAt.Format(time.RFC1123Z))
		}
		if hdr.Get("Autocrypt") == "" {
			added.WriteString(p.autocryptHeader(ctx, env.MailFrom))
		}
	}
	if p.opts.Policy == nil && p.opts.Auth == nil {
		return p.store(ctx, env, msg, p.plainCopies(env, msg, added.String()))
	}

	w := &work{large: msg.Size() > StreamThreshold, dir: p.opts.SpillDir}
	defer w.discard()
	var raw []byte // the message as received; for a large message only its header section
	if w.large {
		raw, err = headerSection(msg.NewReader())
	} else if raw, ok = msg.Bytes(); !ok {
		raw, err = readAllBody(msg.NewReader(), msg.Size())
	}
	if err != nil {
		return mailstore.Delivered{}, err
	}
	var authRes string
	if p.opts.Auth != nil && env.Role == RoleMX && !env.TrustedClient {
		in := mailauth.Input{IP: env.RemoteIP, Helo: env.Helo, MailFrom: env.MailFrom, Message: raw, Header: hdr}
		if w.large {
			in.Message, in.Open = nil, msg.NewReader
		}
		r := p.opts.Auth.Check(ctx, in)
		authRes = r.AuthResults(p.opts.Hostname)
		switch r.Verdict.Action {
		case mailauth.Reject, mailauth.Defer:
			return mailstore.Delivered{}, &SenderError{Verdict: r.Verdict}
		case mailauth.Junk:
			p.opts.Logger.Info("message goes to Junk", "id", env.ID, "reason", r.Verdict.Reason)
			env = toJunk(env)
		}
	}
	head, removed := mimeutil.RemoveFields(raw, p.forgedResult)
	if removed > 0 {
		p.opts.Logger.Info("removed forged result headers", "id", env.ID, "count", removed)
	}
	if added.Len() > 0 {
		head = append(added.Bytes(), head...)
	}
	var base mailstore.Body = msgbuf.FromBytes(head)
	if w.large {
		base = &splicedBody{head: head, src: msg, skip: int64(len(raw))}
	}
	copies, err := p.secureCopies(ctx, w, env, base, head, hdr, authRes)
	if err != nil {
		return mailstore.Delivered{}, err
	}
	return p.store(ctx, env, msg, copies)
}

// toJunk returns a copy of env whose local recipients receive in their Junk folder (every
// account is created with one; the store delivers to INBOX when it is gone).
func toJunk(env *Envelope) *Envelope {
	e := *env
	e.Recipients = append([]envelope.Recipient(nil), env.Recipients...)
	for i := range e.Recipients {
		if e.Recipients[i].UserID != 0 {
			e.Recipients[i].Mailbox = "Junk"
		}
	}
	return &e
}

func (p *Pipeline) store(ctx context.Context, env *Envelope, msg *msgbuf.Buffer, copies []mailstore.Copy) (mailstore.Delivered, error) {
	d, err := p.deliverWithinQuota(ctx, env, msg, copies)
	if err != nil {
		return d, err
	}
	p.opts.Logger.Info("message stored", "id", env.ID, "copies", len(copies), "recipients", len(env.Recipients))
	return d, nil
}

// plainCopies is the path without a security stage: one copy for local recipients, one spool
// entry for remote ones.
func (p *Pipeline) plainCopies(env *Envelope, msg *msgbuf.Buffer, added string) []mailstore.Copy {
	received := p.receivedHeader(env)
	var local []mailstore.Target
	remote := map[string][]string{} // envelope sender → recipients
	var senders []string
	seen := map[int64]bool{}
	for _, r := range env.Recipients {
		switch {
		case r.UserID == 0:
			from := env.MailFrom
			if r.Forward != nil {
				from = r.Forward.Sender
			}
			if _, ok := remote[from]; !ok {
				senders = append(senders, from)
			}
			remote[from] = append(remote[from], r.Address.String())
		case !seen[r.UserID]:
			seen[r.UserID] = true
			local = append(local, mailstore.Target{UserID: r.UserID, Mailbox: r.Mailbox})
		}
	}
	var copies []mailstore.Copy
	if len(local) > 0 {
		prefix := fmt.Sprintf("Return-Path: <%s>\r\n%s%s", env.MailFrom, received, added)
		copies = append(copies, mailstore.Copy{Body: prefixed(prefix, msg), Local: local})
	}
	for _, from := range senders {
		copies = append(copies, mailstore.Copy{
			Body:     prefixed(received+added, msg),
			Outbound: &mailstore.Outbound{Sender: from, Recipients: remote[from]},
		})
	}
	return copies
}

// decideFacts are the per-message facts of a decision.
type decideFacts struct {
	settings   policy.Settings
	arrival    policy.Arrival
	sender     policy.Scope
	submitted  bool
	senderKeys policy.Keys
	keys       keys.Lookup // the keyring, or the message's keyMemo
}

// senderKeys looks up the sender's keys that policy.Needs says a decision may use.
func (p *Pipeline) senderKeys(ctx context.Context, kr keys.Lookup, settings policy.Settings, arrival policy.Arrival, sender policy.Scope, submitted bool) (policy.Keys, error) {
	need, _ := policy.Needs(policy.Input{Sender: sender, Submitted: submitted, Arrival: arrival, Settings: settings})
	return p.keyFacts(ctx, kr, sender.Name, need)
}

// WKDLookup finds a remote recipient's published OpenPGP key (*keys.WKDClient).
type WKDLookup interface {
	Lookup(ctx context.Context, addr string) ([]byte, error)
}

// wkdFill looks a remote recipient without a usable OpenPGP key up in its domain's Web Key
// Directory and harvests what it finds. Failures only mean no key.
func (p *Pipeline) wkdFill(ctx context.Context, rcptAddr string) {
	h, ok := p.opts.Keys.(interface {
		HarvestWKD(ctx context.Context, addr string, keydata []byte) (keys.Entry, error)
	})
	if p.opts.WKD == nil || !ok {
		return
	}
	if ring, err := p.opts.Keys.EncryptionKeysPGP(ctx, rcptAddr); err != nil || len(ring) > 0 {
		return
	}
	key, err := p.opts.WKD.Lookup(ctx, rcptAddr)
	if err != nil {
		return
	}
	if _, err := h.HarvestWKD(ctx, rcptAddr, key); err != nil {
		p.opts.Logger.Info("key from WKD not kept", "rcpt", rcptAddr, "err", err)
	}
}

// decide looks up the recipient's keys that the decision can use and asks the policy.
func (p *Pipeline) decide(ctx context.Context, f decideFacts, rcptAddr string, dir policy.Direction) (policy.Decision, error) {
	rcpt, err := policy.ParseScope(rcptAddr)
	if err != nil {
		rcpt = policy.GlobalScope
	}
	in := policy.Input{
		Direction: dir, Sender: f.sender, Recipient: rcpt, Submitted: f.submitted,
		Arrival: f.arrival, Settings: f.settings, SenderKeys: f.senderKeys,
	}
	_, need := policy.Needs(in)
	if need.Discover {
		p.wkdFill(ctx, rcptAddr)
	}
	rk, err := p.keyFacts(ctx, f.keys, rcptAddr, need)
	if err != nil {
		return policy.Decision{}, err
	}
	in.RecipientKeys = rk
	return policy.Decide(in), nil
}

// Explain says what the pipeline would decide for a message from sender to each recipient
// (local says whether it is in a local domain), arriving as arrival. submitted means the
// sender is an authenticated local user.
func (p *Pipeline) Explain(ctx context.Context, sender string, submitted bool, arrival policy.Arrival, rcpts []string, local func(string) bool) ([]policy.Decision, error) {
	settings, err := p.settings(ctx)
	if err != nil {
		return nil, err
	}
	scope := senderScope(sender, p.opts.Subaddressing)
	sk, err := p.senderKeys(ctx, p.opts.Keys, settings, arrival, scope, submitted)
	if err != nil {
		return nil, err
	}
	f := decideFacts{settings: settings, arrival: arrival, sender: scope, submitted: submitted, senderKeys: sk, keys: p.opts.Keys}
	var out []policy.Decision
	for _, r := range rcpts {
		a, err := address.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address", r)
		}
		dir := policy.Outbound
		if local(a.Domain) {
			dir = policy.Inbound
		}
		d, err := p.decide(ctx, f, p.opts.Subaddressing.Base(a).Key(), dir)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// settings are the policy settings in force; the defaults without a policy store.
func (p *Pipeline) settings(ctx context.Context) (policy.Settings, error) {
	if p.opts.Policy == nil {
		return policy.Settings{}, nil
	}
	return p.opts.Policy.PolicySettings(ctx)
}

// scope is the address whose policy scope and keys apply to r.
func (p *Pipeline) scope(r envelope.Recipient) address.Address {
	if r.Base == (address.Address{}) {
		return p.opts.Subaddressing.Base(r.Address)
	}
	return r.Base
}

// secureCopies decides per recipient and makes one copy per distinct decision.
// base is the message with its header section rewritten, head that header section (for an
// ordinary message, all of base).
// hdr is the message's header section as received, parsed.
func (p *Pipeline) secureCopies(ctx context.Context, w *work, env *Envelope, base mailstore.Body, head []byte, hdr textproto.MIMEHeader, authRes string) ([]mailstore.Copy, error) {
	settings, err := p.settings(ctx)
	if err != nil {
		return nil, err
	}
	arrival := arrivalOf(mimecrypt.DetectBytes(head))
	submitted := env.submitted()
	sender := senderScope(env.MailFrom, p.opts.Subaddressing)
	senderAddr := ""
	if sender.Kind == policy.Address {
		senderAddr = sender.Name
	}
	from := fromAddress(hdr)
	if !submitted {
		p.harvestAutocrypt(ctx, hdr, from)
	}
	w.keys = newKeyMemo(p.opts.Keys)
	senderKeys, err := p.senderKeys(ctx, w.keys, settings, arrival, sender, submitted)
	if err != nil {
		return nil, err
	}

	type group struct {
		decision   policy.Decision
		local      []mailstore.Target
		remote     []string
		rcpt       string // a recipient of the group, for key look-ups
		sender     string // envelope sender of the spool entry
		dkimDomain string // the domain that signs remote copies

		relay []string // recipients in relay domains
	}
	var groups []*group
	byKey := map[string]*group{}
	seenUser := map[int64]bool{}
	rejected := &RejectError{Detailed: submitted}
	for _, r := range env.Recipients {
		if r.UserID != 0 && seenUser[r.UserID] {
			continue
		}
		seenUser[r.UserID] = r.UserID != 0
		rcptAddr := p.scope(r).Key()
		dir := policy.Inbound
		if r.UserID == 0 && !r.Relay {
			dir = policy.Outbound
		}
		d, err := p.decide(ctx, decideFacts{settings: settings, arrival: arrival, sender: sender, submitted: submitted, senderKeys: senderKeys, keys: w.keys}, rcptAddr, dir)
		if err != nil {
			return nil, err
		}
		if d.Reject {
			rejected.Recipients = append(rejected.Recipients, r.Address.String())
			if rejected.Reason == "" {
				rejected.Reason = d.RejectReason
			}
			continue
		}
		gs, dkimDomain := env.MailFrom, ""
		if senderAddr != "" {
			dkimDomain = senderAddr[strings.LastIndexByte(senderAddr, '@')+1:]
		}
		if r.Forward != nil {
			gs, dkimDomain = r.Forward.Sender, r.Forward.Domain
		}
		key := fmt.Sprintf("%v|%s|%s|%s", dir, d.Key(), gs, dkimDomain)
		if d.Decrypt != policy.None || d.Encrypt != policy.None {
			key += "|" + rcptAddr // keys are per recipient
		}
		g := byKey[key]
		if g == nil {
			g = &group{decision: d, rcpt: rcptAddr, sender: gs, dkimDomain: dkimDomain}
			byKey[key] = g
			groups = append(groups, g)
		}
		switch {
		case r.UserID != 0:
			g.local = append(g.local, mailstore.Target{UserID: r.UserID, Mailbox: r.Mailbox})
		case r.Relay:
			g.relay = append(g.relay, r.Address.String())
		default:
			g.remote = append(g.remote, r.Address.String())
		}
	}
	if len(rejected.Recipients) > 0 {
		return nil, rejected
	}

	received := p.receivedHeader(env)
	var copies []mailstore.Copy
	for _, g := range groups {
		res, err := p.transform(ctx, w, g.decision, base, arrival, g.rcpt, from, senderAddr)
		if err != nil {
			return nil, err
		}
		if len(g.local) > 0 {
			h := fmt.Sprintf("Return-Path: <%s>\r\n%s", env.MailFrom, received) + p.resultHeaders(res, authRes)
			copies = append(copies, mailstore.Copy{Body: prefixed(h, res.content), Local: g.local})
		}
		if len(g.relay) > 0 {
			copies = append(copies, p.relayCopy(received, res, authRes, g.sender, g.relay))
		}
		if len(g.remote) > 0 {
			body, err := p.remoteBody(w, received, res.content, g.dkimDomain)
			if err != nil {
				return nil, err
			}
			copies = append(copies, mailstore.Copy{
				Body:     body,
				Outbound: &mailstore.Outbound{Sender: g.sender, Recipients: g.remote},
			})
		}
	}
	return copies, nil
}

// resultHeaders are the headers that tell the organisation's own users what the gateway found:
// Sealgate-Security and Authentication-Results (with the S/MIME result).
func (p *Pipeline) resultHeaders(res copyResult, authRes string) string {
	var h strings.Builder
	h.WriteString(securityHeader(res))
	ar := authRes
	if x := smimeAuthResult(res.sig); x != nil {
		if ar == "" {
			ar = authres.Format(p.opts.Hostname, []authres.Result{x})
		} else {
			ar += "; " + strings.TrimPrefix(authres.Format(p.opts.Hostname, []authres.Result{x}), p.opts.Hostname+"; ")
		}
	}
	if ar != "" {
		h.WriteString("Authentication-Results: " + ar + "\r\n")
	}
	return h.String()
}

// remoteBody is a copy for other domains: Received:, then the content DKIM-signed by domain
// when it has a key.
func (p *Pipeline) remoteBody(w *work, received string, content mailstore.Body, domain string) (mailstore.Body, error) {
	if p.opts.DKIM == nil || domain == "" {
		return prefixed(received, content), nil
	}
	if w.large {
		sig, err := p.opts.DKIM.Signature(content.NewReader(), domain)
		switch {
		case err == nil:
			return prefixed(received+sig, content), nil
		case errors.Is(err, mailauth.ErrNoDKIMKey):
			return prefixed(received, content), nil
		}
		return nil, fmt.Errorf("dkim: %w", err)
	}
	data := bytesOf(content)
	signed, err := p.opts.DKIM.SignBytes(data, domain)
	switch {
	case err == nil:
		data = signed
	case !errors.Is(err, mailauth.ErrNoDKIMKey):
		return nil, fmt.Errorf("dkim: %w", err)
	}
	return msgbuf.FromBytes(append([]byte(received), data...)), nil
}

func (p *Pipeline) receivedHeader(env *Envelope) string {
	with := "ESMTP"
	if env.UTF8 {
		with = "UTF8SMTP"
	}
	if env.TLS {
		with += "S"
	}
	if env.AuthUser != nil {
		with += "A"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (Sealgate) with %s id %s", sanitize(env.Helo), env.RemoteIP.Unmap(), p.opts.Hostname, with, env.ID)
	if len(env.Recipients) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", env.Recipients[0].Address)
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", env.ReceivedAt.Format(time.RFC1123Z))
	return b.String()
}

// sanitize keeps a client-supplied word from breaking the header it is written into.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r == 0x7f || r == '(' || r == ')' || r == ';' {
			return -1
		}
		return r
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

func readHeader(r io.Reader) (textproto.MIMEHeader, error) {
	section, err := headerSection(r)
	if err != nil {
		return nil, err
	}
	h, err := mimeutil.ParseTextprotoHeader(section)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedHeader, err)
	}
	return h, nil
}

// submitted reports whether the message gets the outbound treatment of submitted mail.
func (e *Envelope) submitted() bool {
	return e.Role == RoleSubmission || e.TrustedSender
}

func checkFromOwned(u *mailstore.User, h textproto.MIMEHeader, rule address.Subaddressing) error {
	if u == nil {
		return ErrSenderNotOwned
	}
	froms := h.Values("From")
	if len(froms) != 1 {
		return fmt.Errorf("%w: message needs exactly one From: header", ErrMalformedHeader)
	}
	list, err := (&mail.AddressParser{}).ParseList(froms[0])
	if err != nil || len(list) == 0 {
		return fmt.Errorf("%w: From: %v", ErrMalformedHeader, err)
	}
	for _, a := range list {
		addr, err := address.Parse(a.Address)
		if err != nil || !auth.Owns(*u, addr, rule) {
			return ErrSenderNotOwned
		}
	}
	return nil
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type prefixedBody struct {
	prefix []byte
	rest   mailstore.Body
}

func prefixed(prefix string, rest mailstore.Body) *prefixedBody {
	return &prefixedBody{prefix: []byte(prefix), rest: rest}
}

func (b *prefixedBody) Size() int64 { return int64(len(b.prefix)) + b.rest.Size() }

func (b *prefixedBody) NewReader() io.Reader {
	return io.MultiReader(bytes.NewReader(b.prefix), b.rest.NewReader())
}

// Bytes joins prefix and body when the body is in memory.
func (b *prefixedBody) Bytes() ([]byte, bool) {
	bb, ok := b.rest.(interface{ Bytes() ([]byte, bool) })
	if !ok {
		return nil, false
	}
	rest, ok := bb.Bytes()
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(b.prefix)+len(rest))
	return append(append(out, b.prefix...), rest...), true
}
