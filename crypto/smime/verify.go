package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"net/mail"
	"strings"
	"time"

	"go.mozilla.org/pkcs7"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// MaxDateSkew is the default limit between the Date header and the CMS
// signingTime before the result is StatusMismatch.
const MaxDateSkew = 2 * time.Hour

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Roots are the trust anchors. Required: without them Verify returns
	// ErrNoTrustStore.
	Roots *x509.CertPool
	// Intermediates may help to build the chain (the message's own
	// certificates are always used).
	Intermediates []*x509.Certificate
	// Certificates are candidate signer certificates from the keyring
	// (those of the From address), for signatures made without their
	// certificate (openssl cms -sign -nocerts). A signer found in neither
	// the message nor here is StatusUnknownSigner.
	Certificates []*x509.Certificate
	// TrustedSigners are self-signed certificates trusted as signers by
	// themselves (a user's own, as gpgsm makes them, verified by an
	// administrator): a signature whose signer certificate is one of them
	// needs no chain. They are no trust anchors: they vouch for no other
	// certificate.
	TrustedSigners []*x509.Certificate
	// Now is the time at which the chain must be valid; nil: time.Now.
	Now func() time.Time
	// AllowSHA1 accepts SHA-1 signatures (refused by default, as
	// Thunderbird does).
	AllowSHA1 bool
	// MaxDateSkew bounds |Date - signingTime|; 0: MaxDateSkew (the
	// constant); negative: no check.
	MaxDateSkew time.Duration
}

// Verify checks the S/MIME signature of a message: multipart/signed with
// application/pkcs7-signature (the signed part hashed in canonical CRLF
// form) or opaque application/pkcs7-mime signed-data. When dst is not nil
// the message without this signature layer is written to it: the outer
// header fields followed by the signed entity (for opaque signatures, the
// embedded content), bytes unchanged. ErrNotSigned: no S/MIME signature.
func Verify(dst io.Writer, msg io.Reader, opts VerifyOptions) (SignatureResult, error) {
	if opts.Roots == nil {
		return SignatureResult{}, ErrNoTrustStore
	}
	data, err := readMessage(msg)
	if err != nil {
		return SignatureResult{}, err
	}
	top := mimeutil.ParseEntity(data)
	var res SignatureResult
	var inner []byte
	switch {
	case top.MediaType == "multipart/signed" && isPKCS7Signature(top.Params["protocol"]):
		parts, err := top.Parts()
		if err != nil || len(parts) < 2 {
			return SignatureResult{Signed: true, Status: StatusBad, Reason: "multipart/signed without a signature part"}, nil
		}
		inner = parts[0].Raw
		der, err := cmsBody(parts[1])
		if err != nil {
			res = SignatureResult{Signed: true, Status: StatusBad, Reason: "undecodable signature: " + err.Error()}
			break
		}
		res = verifyCMS(der, mimeutil.CanonicalCRLF(parts[0].Raw), opts)
	case isPKCS7Mime(top):
		st := strings.ToLower(top.Params["smime-type"])
		der, err := cmsBody(top)
		if err != nil {
			return SignatureResult{}, err
		}
		if st != "signed-data" {
			var ci contentInfo
			if _, err := asn1.Unmarshal(der, &ci); err != nil || !ci.ContentType.Equal(oidSignedData) {
				return SignatureResult{}, ErrNotSigned
			}
		}
		p7, err := pkcs7.Parse(der)
		if err != nil {
			return SignatureResult{Signed: true, Opaque: true, Status: StatusBad, Reason: "malformed SignedData: " + err.Error()}, nil
		}
		inner = p7.Content
		res = verifyParsed(p7, der, nil, opts)
		res.Opaque = true
	case top.MediaType == "multipart/mixed":
		// A signed first part followed by unsigned additions (mailing
		// list footers): check that part, report Partial.
		parts, err := top.Parts()
		if err != nil || len(parts) == 0 || parts[0].MediaType != "multipart/signed" || !isPKCS7Signature(parts[0].Params["protocol"]) {
			return SignatureResult{}, ErrNotSigned
		}
		var sb bytes.Buffer
		mergeOuter(&sb, top.Header, parts[0].Raw)
		r, err := Verify(nil, &sb, opts)
		r.Partial = len(parts) > 1
		return r, err
	default:
		return SignatureResult{}, ErrNotSigned
	}
	res.checkHeaders(top.Header, opts.MaxDateSkew)
	if dst != nil && inner != nil {
		if err := mergeOuter(dst, top.Header, inner); err != nil {
			return res, err
		}
	}
	return res, nil
}

func isPKCS7Signature(p string) bool {
	p = strings.ToLower(p)
	return p == "application/pkcs7-signature" || p == "application/x-pkcs7-signature"
}

func verifyCMS(der, content []byte, opts VerifyOptions) SignatureResult {
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return SignatureResult{Signed: true, Status: StatusBad, Reason: "malformed SignedData: " + err.Error()}
	}
	return verifyParsed(p7, der, content, opts)
}

// signerInfos reads the SignerInfos of a DER ContentInfo with SignedData.
func signerInfos(der []byte) ([]signerInfo, error) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, err
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      []signerInfo  `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, err
	}
	return sd.SignerInfos, nil
}

// verifyParsed checks every signer of p7 (der is its encoding); detached
// is the signed content for a detached signature (nil for opaque).
func verifyParsed(p7 *pkcs7.PKCS7, der, detached []byte, opts VerifyOptions) SignatureResult {
	res := SignatureResult{Signed: true, Status: StatusBad}
	sis, err := signerInfos(der)
	if err != nil {
		res.Reason = "malformed SignerInfo: " + err.Error()
		return res
	}
	if len(sis) == 0 {
		res.Reason = "no signer"
		return res
	}
	content := p7.Content
	if detached != nil {
		if len(p7.Content) > 0 && !bytes.Equal(p7.Content, detached) {
			res.Reason = "embedded content differs from the signed part"
			return res
		}
		content = detached
	}
	for _, c := range p7.Certificates {
		if err := fillPSSKey(c); err != nil {
			res.Status, res.Reason = StatusUnsupported, err.Error()
			return res
		}
	}
	for i, si := range sis {
		r := verifySigner(p7, si, content, opts)
		if i == 0 || r.Status.Better(res.Status) {
			res = r
		}
	}
	return res
}

type p7attr = struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}

// signerCert finds the certificate a SignerIdentifier names among certs.
func signerCert(sid asn1.RawValue, certs []*x509.Certificate) *x509.Certificate {
	if sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 {
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
		return nil
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || ias.Serial == nil {
		return nil
	}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
			return c
		}
	}
	return nil
}

func verifySigner(p7 *pkcs7.PKCS7, si signerInfo, content []byte, opts VerifyOptions) SignatureResult {
	res := SignatureResult{Signed: true, Status: StatusBad}
	ee := signerCert(si.SID, append(append([]*x509.Certificate{}, p7.Certificates...), opts.Certificates...))
	if ee == nil {
		res.Status, res.Reason = StatusUnknownSigner, "signer certificate neither in the message nor in the keyring"
		return res
	}
	res.Certificate = ee
	res.Subject = ee.Subject.String()
	res.Fingerprint = Fingerprint(ee)
	if em := certEmails(ee); len(em) > 0 {
		res.Signer = em[0]
	}
	digestOID, sigAlg, sig := si.DigestAlgorithm.Algorithm, si.SignatureAlg, si.Signature
	h, ok := hashForOID(digestOID)
	if !ok {
		res.Status, res.Reason = StatusUnsupported, "unsupported digest "+digestOID.String()
		return res
	}
	res.Hash = strings.ReplaceAll(h.String(), "-", "")
	d := newHash(h)
	d.Write(content)
	contentDigest := d.Sum(nil)
	signed := content
	if len(si.SignedAttrs.FullBytes) > 0 {
		// The signature covers the attributes' DER with the SET tag in place of the
		// IMPLICIT [0] (RFC 5652 §5.4).
		set := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
		var md []byte
		for rest := si.SignedAttrs.Bytes; len(rest) > 0; {
			var at p7attr
			var err error
			if rest, err = asn1.Unmarshal(rest, &at); err != nil {
				res.Reason = "malformed signed attributes"
				return res
			}
			switch {
			case at.Type.Equal(oidAttrMessageDigest):
				asn1.Unmarshal(at.Value.Bytes, &md)
			case at.Type.Equal(oidAttrSigningTime):
				var t time.Time
				if _, err := asn1.Unmarshal(at.Value.Bytes, &t); err == nil {
					res.SigningTime = t
				}
			}
		}
		if !bytes.Equal(md, contentDigest) {
			res.Reason = "content verify error: message digest mismatch (content changed)"
			return res
		}
		signed = set
	}
	sigHash, pss := h, (*rsa.PSSOptions)(nil)
	if sigAlg.Algorithm.Equal(oidRSASSAPSS) {
		var err error
		if sigHash, pss, err = pssOptions(sigAlg.Parameters.FullBytes); err != nil {
			res.Status, res.Reason = StatusUnsupported, err.Error()
			if !errors.Is(err, ErrUnsupported) {
				res.Status = StatusBad
			}
			return res
		}
	}
	if pss == nil && IsRSAPSS(ee) {
		// A PSS-restricted key makes no other signatures (RFC 4055); OpenSSL 3.0 labels its
		// PSS signatures rsaEncryption all the same.
		pss = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h}
	}
	d = newHash(sigHash)
	d.Write(signed)
	hashed := d.Sum(nil)
	switch pub := ee.PublicKey.(type) {
	case *rsa.PublicKey:
		var err error
		if pss != nil {
			err = rsa.VerifyPSS(pub, sigHash, hashed, sig, pss)
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, hashed, sig)
		}
		if err != nil {
			res.Reason = "signature verification failure"
			return res
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, hashed, sig) {
			res.Reason = "signature verification failure"
			return res
		}
	default:
		alg := ee.PublicKeyAlgorithm.String()
		if a, ok := spkiAlgorithm(ee); ok && ee.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
			alg = a.Algorithm.String()
		}
		res.Status, res.Reason = StatusUnsupported, "unsupported signer key algorithm "+alg
		return res
	}
	res.CryptoValid = true
	// SHA-1 collisions can be made: a SHA-1 signature does not show that
	// the signer signed this content, so it fails (as in Thunderbird).
	if h == crypto.SHA1 && !opts.AllowSHA1 {
		res.Reason = "SHA-1 signature refused"
		return res
	}
	res.Status = StatusUntrusted
	if !res.SigningTime.IsZero() && (res.SigningTime.Before(ee.NotBefore) || res.SigningTime.After(ee.NotAfter)) {
		res.Reason = "signing time outside the certificate validity"
		return res
	}
	if ee.KeyUsage != 0 && ee.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		res.Reason = "certificate key usage does not allow signing"
		return res
	}
	for _, c := range opts.TrustedSigners {
		t := now(opts.Now)
		if bytes.Equal(c.Raw, ee.Raw) && !t.Before(ee.NotBefore) && !t.After(ee.NotAfter) && EmailProtection(ee) {
			res.Status, res.Valid = StatusGood, true
			return res
		}
	}
	inter := x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	for _, c := range opts.Intermediates {
		inter.AddCert(c)
	}
	if _, err := ee.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   now(opts.Now),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}); err != nil {
		res.Reason = "certificate not trusted: " + err.Error()
		return res
	}
	res.Status = StatusGood
	res.Valid = true
	return res
}

// EmailProtection reports whether a certificate's extended key usage, if
// any, allows e-mail protection.
func EmailProtection(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// checkHeaders applies the From and Date checks to a good result.
func (r *SignatureResult) checkHeaders(h mimeutil.Header, skew time.Duration) {
	if r.Status != StatusGood || r.Certificate == nil {
		return
	}
	if from := h.Values("From"); len(from) > 0 {
		if as, err := mail.ParseAddressList(from[0]); err == nil && len(as) > 0 {
			addr := strings.ToLower(as[0].Address)
			match := false
			for _, e := range certEmails(r.Certificate) {
				if e == addr {
					match = true
				}
			}
			r.SenderMismatch = !match
		}
	}
	if skew == 0 {
		skew = MaxDateSkew
	}
	if date := h.Get("Date"); skew > 0 && date != "" && !r.SigningTime.IsZero() {
		if d, err := mail.ParseDate(date); err == nil {
			diff := d.Sub(r.SigningTime)
			if diff < 0 {
				diff = -diff
			}
			r.DateMismatch = diff > skew
		}
	}
	switch {
	case r.SenderMismatch:
		r.Status, r.Valid, r.Reason = StatusMismatch, false, "From address is not in the signer certificate"
	case r.DateMismatch:
		r.Status, r.Valid, r.Reason = StatusMismatch, false, "Date header differs from the signing time"
	}
}
