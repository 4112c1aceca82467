package pipeline

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/mimecrypt"
	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/crypto/verdict"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/keys"
	"github.com/sealgate/sealgate/policy"
)

// RejectError is a message the policy refuses for some recipients; nothing is stored.
type RejectError struct {
	Recipients []string
	Reason     string // the first reason, for the log
	// Detailed: the client is the authenticated sender, who may see the reason; an Internet
	// client is told less.
	Detailed bool
}

func (e *RejectError) Error() string {
	return "pipeline: policy rejects the message for " + strings.Join(e.Recipients, ", ") + ": " + e.Reason
}

// ErrPolicyNotApplied is a transform the policy demands that failed (a key that does not
// open, a crypto error). The message is refused for now rather than stored or sent
// unprotected.
var ErrPolicyNotApplied = errors.New("pipeline: the security policy could not be applied")

// SecurityHeader is the gateway's own result header; any copy arriving from outside is removed.
const SecurityHeader = "Sealgate-Security"

// arrivalOf maps detection to the policy's view: the outermost encryption and a visible
// signature.
func arrivalOf(r mimecrypt.Result) policy.Arrival {
	var a policy.Arrival
	for _, k := range r.Layers {
		switch {
		case a.Encrypted == policy.None && (k == mimecrypt.PGPEncrypted || k == mimecrypt.PGPInlineEncrypted):
			a.Encrypted = policy.PGP
		case a.Encrypted == policy.None && (k == mimecrypt.SMIMEEnveloped || k == mimecrypt.SMIMEAuthEnveloped):
			a.Encrypted = policy.SMIME
		case a.Signed == policy.None && (k == mimecrypt.PGPSigned || k == mimecrypt.PGPInlineSigned):
			a.Signed = policy.PGP
		case a.Signed == policy.None && (k == mimecrypt.SMIMESignedDetached || k == mimecrypt.SMIMESignedOpaque):
			a.Signed = policy.SMIME
		}
	}
	return a
}

func refs(fprs ...string) []policy.KeyRef {
	out := make([]policy.KeyRef, 0, len(fprs))
	for _, f := range fprs {
		out = append(out, policy.KeyRef{Fingerprint: f, Trust: "verified"})
	}
	return out
}

// keyFacts looks up what need (from policy.Needs) names, and nothing else.
func (p *Pipeline) keyFacts(ctx context.Context, kr keys.Lookup, addr string, need policy.KeyNeed) (policy.Keys, error) {
	var k policy.Keys
	if kr == nil {
		return k, nil
	}
	if need.Encrypt {
		ring, err := kr.EncryptionKeysPGP(ctx, addr)
		if err != nil {
			return k, err
		}
		for _, key := range ring {
			k.PGPPublic = append(k.PGPPublic, refs(key.Fingerprint())...)
		}
		certs, err := kr.Certificates(ctx, addr)
		if err != nil {
			return k, err
		}
		for _, c := range certs {
			k.SMIMECert = append(k.SMIMECert, refs(smime.Fingerprint(c))...)
		}
	}
	switch need.Decrypt {
	case policy.PGP:
		ring, err := kr.DecryptionKeysPGP(ctx, addr)
		if err != nil {
			return k, err
		}
		for _, key := range ring {
			k.PGPSecret = append(k.PGPSecret, refs(key.Fingerprint())...)
		}
	case policy.SMIME:
		cks, err := kr.DecryptionCerts(ctx, addr)
		if err != nil {
			return k, err
		}
		for _, ck := range cks {
			k.SMIMESecret = append(k.SMIMESecret, refs(smime.Fingerprint(ck.Cert))...)
		}
	}
	if need.Sign {
		if key, err := kr.SigningKeyPGP(ctx, addr); err == nil {
			k.PGPSecret = append(k.PGPSecret, refs(key.Fingerprint())...)
		} else if !errors.Is(err, keys.ErrNotFound) {
			return k, err
		}
		if ck, err := kr.SigningCert(ctx, addr); err == nil {
			k.SMIMESecret = append(k.SMIMESecret, refs(smime.Fingerprint(ck.Cert))...)
		} else if !errors.Is(err, keys.ErrNotFound) {
			return k, err
		}
	}
	return k, nil
}

// sigInfo is a signature outcome for the Sealgate-Security header and, for S/MIME, the
// RFC 7281 smime= result.
type sigInfo struct {
	status verdict.Status
	// checkErr: the check could not run at all (temperror: the keyring failed; permerror:
	// the signature cannot be read). status is then UnknownKey or Unsupported.
	checkErr authres.ResultValue
	signer   string
	key      string
	scheme   policy.Scheme
}

// signatureValue is the signature= value of Sealgate-Security: a signature that could not be
// checked is "unknown", never "fail".
func (s sigInfo) signatureValue() string {
	switch s.status {
	case verdict.Pass:
		return "pass"
	case verdict.Fail, verdict.Mismatch:
		return "fail"
	case verdict.Untrusted:
		return "untrusted"
	case verdict.UnknownKey, verdict.Unsupported:
		return "unknown"
	}
	return "none"
}

// smimeValue is the RFC 7281 §3 result: fail only for a signature that was checked and is
// wrong (SHA-1 included: its collisions can be made); policy for one that verifies but is not
// acceptable here (no trusted chain, a From that is not the signer); neutral for one that
// could not be processed (unknown signer, unsupported algorithm); temperror/permerror when the
// check itself failed.
func (s sigInfo) smimeValue() authres.ResultValue {
	if s.checkErr != "" {
		return s.checkErr
	}
	switch s.status {
	case verdict.Pass:
		return authres.ResultPass
	case verdict.Fail:
		return authres.ResultFail
	case verdict.Untrusted, verdict.Mismatch:
		return authres.ResultPolicy
	case verdict.UnknownKey, verdict.Unsupported:
		return authres.ResultNeutral
	}
	return authres.ResultNone
}

func pgpSig(r pgpmime.SignatureResult) sigInfo {
	if !r.Signed {
		return sigInfo{}
	}
	return sigInfo{status: r.Status, signer: r.Signer, key: r.Fingerprint, scheme: policy.PGP}
}

func smimeSig(r smime.SignatureResult) sigInfo {
	if !r.Signed {
		return sigInfo{}
	}
	return sigInfo{status: r.Status, signer: r.Signer, key: r.Fingerprint, scheme: policy.SMIME}
}

// copyResult is one transformed copy.
type copyResult struct {
	content   mailstore.Body
	arrival   policy.Arrival
	decrypted bool
	sig       sigInfo
	stored    policy.Scheme
}

// transform applies one decision to the message. from is the From: address (for signature
// checks), sender the envelope sender (for signing).
func (p *Pipeline) transform(ctx context.Context, w *work, d policy.Decision, msg mailstore.Body, arrival policy.Arrival, rcpt, from, sender string) (copyResult, error) {
	res := copyResult{content: msg, arrival: arrival}
	kr := w.keys
	now := p.opts.Now

	if d.Decrypt != policy.None && kr != nil {
		switch d.Decrypt {
		case policy.PGP:
			ring, err := kr.DecryptionKeysPGP(ctx, rcpt)
			if err != nil {
				return res, err
			}
			verify, _ := kr.VerificationKeysPGP(ctx, from)
			out := w.newPlaintextBuffer(msg.Size())
			r, err := pgpmime.Decrypt(out, msg.NewReader(), ring, pgpmime.DecryptOptions{VerifyKeys: verify, Now: now, MaxPlaintext: p.opts.MaxMessageSize})
			if err == nil {
				err = out.Finish()
				w.spilled(out)
			}
			if errors.Is(err, pgpmime.ErrPlaintextTooLarge) {
				return res, fmt.Errorf("%w: %v", ErrContentTooLarge, err)
			}
			var content mailstore.Body
			if err == nil {
				content, err = p.withoutForgedResults(w, out)
			}
			if err == nil {
				res.content, res.decrypted = content, true
				if r.Signature.Signed {
					res.sig = pgpSig(r.Signature)
				}
			} else {
				p.opts.Logger.Info("message not decrypted", "rcpt", rcpt, "err", err)
			}
		case policy.SMIME:
			cks, err := kr.DecryptionCerts(ctx, rcpt)
			if err != nil {
				return res, err
			}
			var lastErr error
			for _, ck := range cks {
				out := w.newBuffer(msg.Size())
				_, err := smime.Decrypt(out, msg.NewReader(), ck.Cert, ck.Key, smime.DecryptOptions{Now: now})
				if err == nil {
					err = out.Finish()
				}
				if err == nil {
					var c mailstore.Body
					if c, err = p.withoutForgedResults(w, out); err == nil {
						res.content, res.decrypted = c, true
						break
					}
				}
				lastErr = err
			}
			if !res.decrypted {
				p.opts.Logger.Info("message not decrypted", "rcpt", rcpt, "err", lastErr)
			}
		}
		if res.decrypted && errors.Is(mimelimit.Check(res.content.NewReader()), mimelimit.ErrExceeded) {
			return res, ErrStructureTooComplex // the same bounds inside the encryption
		}
	}

	if d.Verify && res.sig.status == verdict.None {
		if s, ok := p.verify(ctx, w, res.content, from); ok {
			res.sig = s
		}
	}

	if d.Sign != policy.None || d.Encrypt != policy.None {
		out, err := p.protect(ctx, w, d, res.content, rcpt, sender)
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrPolicyNotApplied, err)
		}
		res.content = out
	}
	res.stored = d.Encrypt
	if res.stored == policy.None && !res.decrypted {
		res.stored = arrival.Encrypted
	}
	return res, nil
}

// verify checks the visible signature of content, if any.
func (p *Pipeline) verify(ctx context.Context, w *work, content mailstore.Body, from string) (sigInfo, bool) {
	var a policy.Arrival
	if w.large {
		head, err := headerSection(content.NewReader())
		if err != nil {
			return sigInfo{}, false
		}
		a = arrivalOf(mimecrypt.DetectBytes(head))
	} else {
		a = arrivalOf(mimecrypt.DetectBytes(bytesOf(content)))
	}
	if a.Encrypted != policy.None || a.Signed == policy.None || p.opts.Keys == nil {
		return sigInfo{}, false
	}
	now := p.opts.Now
	switch a.Signed {
	case policy.PGP:
		ring, err := lookupFrom(from, func(a string) (pgpmime.KeyRing, error) { return p.opts.Keys.VerificationKeysPGP(ctx, a) })
		if err != nil {
			return sigInfo{status: verdict.UnknownKey, checkErr: authres.ResultTempError, scheme: policy.PGP}, true
		}
		r, err := pgpmime.Verify(content.NewReader(), ring, pgpmime.VerifyOptions{Now: now})
		if errors.Is(err, pgpmime.ErrNotSigned) {
			return sigInfo{}, false
		}
		if err != nil {
			return sigInfo{status: verdict.Unsupported, checkErr: authres.ResultPermError, scheme: policy.PGP}, true
		}
		return pgpSig(r), true
	case policy.SMIME:
		roots, err := p.opts.Keys.TrustRoots(ctx)
		if err != nil {
			return sigInfo{status: verdict.UnknownKey, checkErr: authres.ResultTempError, scheme: policy.SMIME}, true
		}
		// Signatures made without their certificate are checked against the sender's.
		certs, err := lookupFrom(from, func(a string) ([]*x509.Certificate, error) { return p.opts.Keys.VerificationCerts(ctx, a) })
		if err != nil {
			return sigInfo{status: verdict.UnknownKey, checkErr: authres.ResultTempError, scheme: policy.SMIME}, true
		}
		own, err := p.trustedSelfSigned(ctx, from, certs)
		if err != nil {
			return sigInfo{status: verdict.UnknownKey, checkErr: authres.ResultTempError, scheme: policy.SMIME}, true
		}
		r, err := smime.Verify(nil, content.NewReader(), smime.VerifyOptions{Roots: roots, Certificates: certs, TrustedSigners: own, Now: now})
		if errors.Is(err, smime.ErrNotSigned) {
			return sigInfo{}, false
		}
		if err != nil {
			return sigInfo{status: verdict.Unsupported, checkErr: authres.ResultPermError, scheme: policy.SMIME}, true
		}
		if r.Status == smime.StatusGood && r.Certificate != nil {
			p.harvestCertificate(ctx, r.Certificate)
		}
		return smimeSig(r), true
	}
	return sigInfo{}, false
}

// lookupFrom runs a keyring lookup for the From address; a From that is no address has no
// keys (which is not a keyring failure).
func lookupFrom[T any](from string, lookup func(addr string) (T, error)) (T, error) {
	if _, err := address.Parse(from); err != nil {
		var none T
		return none, nil
	}
	return lookup(from)
}

// trustedSelfSigned picks the self-signed certificates among the sender's (gpgsm makes them)
// that an operator verified: like a verified OpenPGP key, such a certificate is trusted for
// its own signatures, and for nothing else.
func (p *Pipeline) trustedSelfSigned(ctx context.Context, from string, certs []*x509.Certificate) ([]*x509.Certificate, error) {
	var self []*x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && smime.CheckCertSignature(c, c) == nil {
			self = append(self, c)
		}
	}
	if len(self) == 0 {
		return nil, nil
	}
	entries, err := p.opts.Keys.Entries(ctx, from)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range self {
		fpr := smime.Fingerprint(c)
		for _, e := range entries {
			if e.Fingerprint == fpr && e.Trust == keys.TrustVerified {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// protect signs and/or encrypts content as decided. PGP signing with PGP encryption is one
// OpenPGP message (sign-then-encrypt, RFC 3156 §6.2); otherwise the signature is made first
// and the signed message encrypted.
func (p *Pipeline) protect(ctx context.Context, w *work, d policy.Decision, content mailstore.Body, rcpt, sender string) (mailstore.Body, error) {
	kr := w.keys
	if kr == nil {
		return nil, errors.New("no keyring")
	}
	now := p.opts.Now
	var signer *pgpmime.Key
	if d.Sign == policy.PGP {
		k, err := kr.SigningKeyPGP(ctx, sender)
		if err != nil {
			return nil, err
		}
		signer = k
	}
	if d.Sign == policy.PGP && d.Encrypt != policy.PGP {
		out := w.newBuffer(content.Size() + 4096)
		if err := pgpmime.Sign(out, content.NewReader(), pgpmime.SignOptions{Signer: signer, ProtectedHeaders: d.Encrypt != policy.None, Now: now}); err != nil {
			return nil, err
		}
		if err := out.Finish(); err != nil {
			return nil, err
		}
		content, signer = out, nil
	}
	if d.Sign == policy.SMIME {
		ck, err := kr.SigningCert(ctx, sender)
		if err != nil {
			return nil, err
		}
		out := w.newBuffer(content.Size()*4/3 + 8192)
		if err := smime.Sign(out, content.NewReader(), smime.SignOptions{Cert: ck.Cert, Key: ck.Key, Chain: ck.Chain, ProtectedHeaders: d.Encrypt != policy.None, Now: now}); err != nil {
			return nil, err
		}
		if err := out.Finish(); err != nil {
			return nil, err
		}
		content = out
	}
	switch d.Encrypt {
	case policy.PGP:
		ring, err := kr.EncryptionKeysPGP(ctx, rcpt)
		if err != nil {
			return nil, err
		}
		var chosen pgpmime.KeyRing
		for _, k := range ring {
			if k.Fingerprint() == d.EncryptKey {
				chosen = append(chosen, k)
			}
		}
		if len(chosen) == 0 {
			return nil, fmt.Errorf("key %s of %s is no longer usable", d.EncryptKey, rcpt)
		}
		// Armored ciphertext: base64 of the content plus line ends, packet headers and MIME.
		out := w.newBuffer(content.Size()*140/100 + 4096)
		if err := pgpmime.Encrypt(out, content.NewReader(), pgpmime.EncryptOptions{Recipients: chosen, Signer: signer, ProtectedHeaders: true, Now: now}); err != nil {
			return nil, err
		}
		return out, out.Finish()
	case policy.SMIME:
		certs, err := kr.Certificates(ctx, rcpt)
		if err != nil {
			return nil, err
		}
		var chosen []*x509.Certificate
		for _, c := range certs {
			if smime.Fingerprint(c) == d.EncryptKey {
				chosen = append(chosen, c)
			}
		}
		if len(chosen) == 0 {
			return nil, fmt.Errorf("certificate %s of %s is no longer usable", d.EncryptKey, rcpt)
		}
		out := w.newBuffer(content.Size()*140/100 + 4096)
		if err := smime.Encrypt(out, content.NewReader(), smime.EncryptOptions{Recipients: chosen, ProtectedHeaders: true, Now: now}); err != nil {
			return nil, err
		}
		return out, out.Finish()
	}
	return content, nil
}

// securityHeader formats Sealgate-Security for a stored copy (DESIGN §2).
func securityHeader(r copyResult) string {
	name := func(s policy.Scheme) string {
		if s == policy.None {
			return "plain"
		}
		return string(s)
	}
	parts := []string{"received=" + name(r.arrival.Encrypted)}
	if r.arrival.Encrypted != policy.None {
		parts = append(parts, "decrypted="+map[bool]string{true: "yes", false: "no"}[r.decrypted])
	}
	parts = append(parts, "signature="+r.sig.signatureValue())
	if r.sig.signer != "" {
		parts = append(parts, "signer="+r.sig.signer)
	}
	if r.sig.key != "" {
		parts = append(parts, "key="+r.sig.key)
	}
	parts = append(parts, "stored="+name(r.stored))
	return SecurityHeader + ": " + strings.Join(parts, "; ") + "\r\n"
}

// smimeAuthResult is the RFC 7281 result of an S/MIME signature, or nil.
func smimeAuthResult(s sigInfo) authres.Result {
	if s.scheme != policy.SMIME || s.status == verdict.None {
		return nil
	}
	v := s.smimeValue()
	params := map[string]string{}
	if s.signer != "" {
		params["body.smime-identifier"] = s.signer
	}
	return &authres.GenericResult{Method: "smime", Value: v, Params: params}
}

// fromAddress is the first From: address of a parsed header section, lower-cased, or "".
func fromAddress(h textproto.MIMEHeader) string {
	list, err := (&mail.AddressParser{}).ParseList(h.Get("From"))
	if err != nil || len(list) == 0 {
		return ""
	}
	return strings.ToLower(list[0].Address)
}

// autocryptHeader is the Autocrypt header (Level 1) for a sender with an OpenPGP key, or "".
func (p *Pipeline) autocryptHeader(ctx context.Context, sender string) string {
	if p.opts.Keys == nil || sender == "" {
		return ""
	}
	ring, err := p.opts.Keys.EncryptionKeysPGP(ctx, sender)
	if err != nil || len(ring) == 0 {
		return ""
	}
	pub, err := ring[0].PublicKeyBytes()
	if err != nil {
		return ""
	}
	b64 := base64.StdEncoding.EncodeToString(pub)
	var b strings.Builder
	fmt.Fprintf(&b, "Autocrypt: addr=%s; keydata=", sender)
	for len(b64) > 0 {
		n := min(len(b64), 72)
		b.WriteString("\r\n ")
		b.WriteString(b64[:n])
		b64 = b64[n:]
	}
	b.WriteString("\r\n")
	return b.String()
}

// senderScope is the policy scope of an envelope sender: its base address under rule.
func senderScope(mailFrom string, rule address.Subaddressing) policy.Scope {
	if a, err := address.Parse(mailFrom); err == nil {
		if s, err := policy.ParseScope(rule.Base(a).String()); err == nil {
			return s
		}
	}
	return policy.GlobalScope
}

func readAllBody(r io.Reader, size int64) ([]byte, error) {
	b := bytes.NewBuffer(make([]byte, 0, size))
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// Harvester stores keys seen in mail; *keys.Keyring implements it. The pipeline harvests when
// its Keys also implement Harvester.
type Harvester interface {
	HarvestCertificate(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate) (keys.Entry, error)
	HarvestAutocrypt(ctx context.Context, addr string, keydata []byte) (keys.Entry, error)
}

// harvestCertificate keeps the certificate of a valid, trusted S/MIME signature. Failing to
// harvest never fails the message.
func (p *Pipeline) harvestCertificate(ctx context.Context, c *x509.Certificate) {
	if h, ok := p.opts.Keys.(Harvester); ok {
		if _, err := h.HarvestCertificate(ctx, c, nil); err != nil {
			p.opts.Logger.Info("certificate not harvested", "subject", c.Subject.String(), "err", err)
		}
	}
}

// harvestAutocrypt keeps the key of an Autocrypt header (Autocrypt Level 1) whose addr is the
// message's From: address.
func (p *Pipeline) harvestAutocrypt(ctx context.Context, hdr textproto.MIMEHeader, from string) {
	h, ok := p.opts.Keys.(Harvester)
	if !ok || from == "" {
		return
	}
	values := hdr["Autocrypt"]
	if len(values) != 1 {
		return // none, or ambiguous: Autocrypt ignores both
	}
	var addr, keydata string
	for _, attr := range strings.Split(values[0], ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(attr), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "addr":
			addr = strings.ToLower(strings.TrimSpace(v))
		case "keydata":
			keydata = strings.Join(strings.Fields(v), "")
		}
	}
	if addr != from || keydata == "" {
		return
	}
	raw, err := base64.StdEncoding.DecodeString(keydata)
	if err != nil {
		return
	}
	if _, err := h.HarvestAutocrypt(ctx, addr, raw); err != nil {
		p.opts.Logger.Info("autocrypt key not harvested", "addr", addr, "err", err)
	}
}
