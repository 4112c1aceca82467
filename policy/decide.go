package policy

import (
	"fmt"
	"strings"
)

// Scheme is a message protection scheme.
type Scheme string

// Schemes.
const (
	None  Scheme = ""
	PGP   Scheme = "pgp"
	SMIME Scheme = "smime"
)

func (s Scheme) String() string {
	if s == None {
		return "none"
	}
	return string(s)
}

// Direction says which half of the engine a recipient gets.
type Direction int

const (
	// Inbound: a local recipient (mail from the Internet, or submitted by a local user).
	Inbound Direction = iota
	// Outbound: a remote recipient of submitted mail.
	Outbound
)

// Arrival is how the message arrived, from crypto/mimecrypt's detection.
type Arrival struct {
	Encrypted Scheme // outermost encryption, None if the message is not encrypted
	Signed    Scheme // a visible signature layer, None if not signed
}

// KeyRef names a usable key (valid, not revoked, not expired: the keyring has filtered them).
type KeyRef struct {
	Fingerprint string
	Trust       string // "verified", "harvested", "untrusted"
}

// Keys are the keys the gateway has for one party.
type Keys struct {
	PGPPublic   []KeyRef // to encrypt to
	PGPSecret   []KeyRef // to decrypt or sign with
	SMIMECert   []KeyRef // to encrypt to
	SMIMESecret []KeyRef // certificate with private key: to decrypt or sign with
}

func usable(refs []KeyRef) (KeyRef, bool) {
	for _, r := range refs {
		if r.Trust != "untrusted" {
			return r, true
		}
	}
	return KeyRef{}, false
}

// Input are the facts Decide works from, for one recipient of one message.
type Input struct {
	Direction Direction
	Sender    Scope // the envelope sender (an address scope); GlobalScope for the null sender
	Recipient Scope
	// Submitted: the message came from an authenticated local user (submission or web mail).
	Submitted bool
	Arrival   Arrival
	Settings  Settings
	// SenderKeys are the sender's gateway-held keys (for signing).
	SenderKeys Keys
	// RecipientKeys are the recipient's keys: public to encrypt, secret to decrypt.
	RecipientKeys Keys
}

// Decision is what to do for one recipient. Two recipients with equal decisions share one
// transformed copy.
type Decision struct {
	Reject       bool
	RejectReason string // for the SMTP reply; names no key material

	Decrypt    Scheme // decrypt with the recipient's secret key of this scheme
	DecryptKey string // its fingerprint
	Verify     bool   // verify signatures and record the result
	Sign       Scheme // sign with the sender's key
	SignKey    string
	Encrypt    Scheme // encrypt to the recipient's key
	EncryptKey string
	// Stored is the form the copy takes: "plain", "pgp" or "smime" (encrypted).
	Stored Scheme

	// Steps explain the decision, one line per rule applied, in order.
	Steps []Step
}

// Step is one applied rule.
type Step struct {
	Rule string // a stable id, e.g. "in.decrypt"
	Text string
}

// Key returns a string equal for decisions that produce the same copy.
func (d Decision) Key() string {
	return fmt.Sprintf("%v|%s|%s|%v|%s|%s|%s|%s", d.Reject, d.Decrypt, d.DecryptKey, d.Verify, d.Sign, d.SignKey, d.Encrypt, d.EncryptKey)
}

func (d *Decision) step(rule, format string, args ...any) {
	d.Steps = append(d.Steps, Step{Rule: rule, Text: fmt.Sprintf(format, args...)})
}

func (d *Decision) reject(rule, reason string) Decision {
	d.Reject, d.RejectReason = true, reason
	d.step(rule, "reject: %s", reason)
	return *d
}

// Decide applies the policy to one recipient. It is pure: facts in, decision out. The rules,
// in order:
//
// Outbound (submitted mail, and the sender's side of submitted mail to local recipients):
//   - out.passthrough: mail the client already signed or encrypted passes byte-exact.
//   - out.sign: outbound.sign of the sender; pgp/smime need the sender's key (reject if none),
//     auto takes PGP, then S/MIME, then nothing.
//   - out.encrypt: outbound.encrypt, the stricter of the sender's and the recipient's;
//     never / opportunistic (encrypt when a key is known) / required (reject without a key).
//     outbound.scheme of the sender picks the scheme when the recipient has both (auto: PGP).
//
// Inbound (local recipients):
//   - in.decrypt: encrypted mail is decrypted when inbound.decrypt is true and the gateway
//     holds the recipient's secret key of that scheme; otherwise it stays as it arrived.
//   - in.verify: inbound.verify records signature results.
//   - in.encrypt: inbound.encrypt encrypts plaintext at rest; pgp/smime need the recipient's
//     key (reject if none: fail closed), auto takes PGP, then S/MIME, then stores plain.
//     Mail that arrived encrypted and is not decrypted is never encrypted again.
func Decide(in Input) Decision {
	var d Decision
	s := in.Settings
	get := func(sc Scope, key string) string { return s.Get(sc, key).Value }

	if in.Submitted {
		if in.Arrival.Encrypted != None || in.Arrival.Signed != None {
			d.step("out.passthrough", "the message arrived %s: passed through byte-exact", arrivalWords(in.Arrival))
		} else {
			if r := d.decideSign(in, get(in.Sender, "outbound.sign")); r {
				return d
			}
		}
	}
	if in.Direction == Outbound {
		if in.Arrival.Encrypted == None {
			if r := d.decideOutboundEncrypt(in); r {
				return d
			}
		} else {
			d.step("out.no-double-encrypt", "already %s-encrypted by the sender: not encrypted again", in.Arrival.Encrypted)
		}
		d.Stored = d.Encrypt
		if d.Stored == None {
			d.Stored = in.Arrival.Encrypted
		}
		return d
	}

	// Inbound.
	enc := in.Arrival.Encrypted
	if enc != None {
		want := get(in.Recipient, "inbound.decrypt") == "true"
		key, ok := secretFor(in.RecipientKeys, enc)
		switch {
		case !want:
			d.step("in.decrypt", "arrived %s-encrypted; inbound.decrypt is false (from %s): stored as received", enc, s.Get(in.Recipient, "inbound.decrypt").Source)
		case !ok:
			d.step("in.decrypt", "arrived %s-encrypted; the gateway holds no %s secret key of the recipient: stored as received", enc, enc)
		default:
			d.Decrypt, d.DecryptKey = enc, key.Fingerprint
			d.step("in.decrypt", "arrived %s-encrypted; decrypted with the recipient's key %s", enc, key.Fingerprint)
		}
	}
	if get(in.Recipient, "inbound.verify") == "true" {
		d.Verify = true
		d.step("in.verify", "signatures are verified and the result recorded")
	}
	stillEncrypted := enc != None && d.Decrypt == None
	atRest := get(in.Recipient, "inbound.encrypt")
	switch {
	case atRest == "none":
		d.step("in.encrypt", "inbound.encrypt is none (from %s): stored without at-rest encryption", s.Get(in.Recipient, "inbound.encrypt").Source)
	case stillEncrypted:
		d.step("in.encrypt", "inbound.encrypt is %s, and the message is still %s-encrypted: not encrypted again", atRest, enc)
	default:
		scheme, key, ok := pickEncryptionKey(in.RecipientKeys, atRest, "pgp")
		switch {
		case ok:
			d.Encrypt, d.EncryptKey = scheme, key.Fingerprint
			d.step("in.encrypt", "inbound.encrypt is %s: encrypted at rest to the recipient's %s key %s", atRest, scheme, key.Fingerprint)
		case atRest == "auto":
			d.step("in.encrypt", "inbound.encrypt is auto and the recipient has no usable key: stored plain")
		default:
			return d.reject("in.encrypt", fmt.Sprintf("recipient %s requires %s encryption at rest but has no usable %s key", in.Recipient, atRest, atRest))
		}
	}
	switch {
	case d.Encrypt != None:
		d.Stored = d.Encrypt
	case stillEncrypted:
		d.Stored = enc
	}
	return d
}

// decideSign applies out.sign; it reports whether the decision is a rejection.
func (d *Decision) decideSign(in Input, mode string) bool {
	switch mode {
	case "none":
		d.step("out.sign", "outbound.sign is none for %s", in.Sender)
		return false
	case "auto":
		if k, ok := usable(in.SenderKeys.PGPSecret); ok {
			d.Sign, d.SignKey = PGP, k.Fingerprint
		} else if k, ok := usable(in.SenderKeys.SMIMESecret); ok {
			d.Sign, d.SignKey = SMIME, k.Fingerprint
		} else {
			d.step("out.sign", "outbound.sign is auto and %s has no signing key: not signed", in.Sender)
			return false
		}
	default:
		scheme := Scheme(mode)
		k, ok := secretFor(in.SenderKeys, scheme)
		if !ok {
			d.reject("out.sign", fmt.Sprintf("sender %s must sign with %s but the gateway holds no %s key for it", in.Sender, scheme, scheme))
			return true
		}
		d.Sign, d.SignKey = scheme, k.Fingerprint
	}
	d.step("out.sign", "outbound.sign is %s: signed with %s's %s key %s", mode, in.Sender, d.Sign, d.SignKey)
	return false
}

func (d *Decision) decideOutboundEncrypt(in Input) bool {
	s := in.Settings
	mode, from := strictest(s.Get(in.Sender, "outbound.encrypt"), s.Get(in.Recipient, "outbound.encrypt"))
	if mode == "never" {
		d.step("out.encrypt", "outbound.encrypt is never (from %s): sent without encryption", from)
		return false
	}
	pref := s.Get(in.Sender, "outbound.scheme").Value
	scheme, key, ok := pickEncryptionKey(in.RecipientKeys, pref, "pgp")
	if ok {
		d.Encrypt, d.EncryptKey = scheme, key.Fingerprint
		d.step("out.encrypt", "outbound.encrypt is %s (from %s): encrypted to %s's %s key %s", mode, from, in.Recipient, scheme, key.Fingerprint)
		return false
	}
	if mode == "required" {
		d.reject("out.encrypt", fmt.Sprintf("encryption to %s is required (policy of %s) but no usable key is known", in.Recipient, from))
		return true
	}
	d.step("out.encrypt", "outbound.encrypt is opportunistic and no usable key of %s is known: sent without encryption", in.Recipient)
	return false
}

var encryptStrictness = map[string]int{"never": 0, "opportunistic": 1, "required": 2}

func strictest(a, b Value) (string, string) {
	if encryptStrictness[b.Value] > encryptStrictness[a.Value] {
		return b.Value, b.Source
	}
	return a.Value, a.Source
}

func secretFor(k Keys, s Scheme) (KeyRef, bool) {
	switch s {
	case PGP:
		return usable(k.PGPSecret)
	case SMIME:
		return usable(k.SMIMESecret)
	}
	return KeyRef{}, false
}

// pickEncryptionKey chooses a public key: want is "pgp", "smime" or "auto"; auto prefers
// autoFirst and falls back to the other.
func pickEncryptionKey(k Keys, want, autoFirst string) (Scheme, KeyRef, bool) {
	order := []Scheme{Scheme(want)}
	if want == "auto" {
		order = []Scheme{Scheme(autoFirst), other(Scheme(autoFirst))}
	}
	for _, s := range order {
		refs := k.PGPPublic
		if s == SMIME {
			refs = k.SMIMECert
		}
		if r, ok := usable(refs); ok {
			return s, r, true
		}
	}
	return None, KeyRef{}, false
}

func other(s Scheme) Scheme {
	if s == PGP {
		return SMIME
	}
	return PGP
}

func arrivalWords(a Arrival) string {
	var w []string
	if a.Signed != None {
		w = append(w, a.Signed.String()+"-signed")
	}
	if a.Encrypted != None {
		w = append(w, a.Encrypted.String()+"-encrypted")
	}
	return strings.Join(w, " and ")
}

// Explain renders a decision for people: the outcome, then the rules that produced it.
func Explain(d Decision) string {
	var b strings.Builder
	if d.Reject {
		fmt.Fprintf(&b, "REJECT: %s\n", d.RejectReason)
	} else {
		var acts []string
		if d.Decrypt != None {
			acts = append(acts, "decrypt ("+d.Decrypt.String()+")")
		}
		if d.Verify {
			acts = append(acts, "verify")
		}
		if d.Sign != None {
			acts = append(acts, "sign ("+d.Sign.String()+")")
		}
		if d.Encrypt != None {
			acts = append(acts, "encrypt ("+d.Encrypt.String()+")")
		}
		if len(acts) == 0 {
			acts = append(acts, "pass through unchanged")
		}
		stored := d.Stored.String()
		if d.Stored == None {
			stored = "plain"
		}
		fmt.Fprintf(&b, "%s; result: %s\n", strings.Join(acts, ", "), stored)
	}
	for _, s := range d.Steps {
		fmt.Fprintf(&b, "  [%s] %s\n", s.Rule, s.Text)
	}
	return b.String()
}
