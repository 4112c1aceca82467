package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/smime"
)

var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// certAddresses returns the normalized e-mail addresses of a certificate: SAN rfc822Names and
// the legacy emailAddress attribute of the subject.
func certAddresses(c *x509.Certificate, rule address.Subaddressing) []string {
	var raw []string
	raw = append(raw, c.EmailAddresses...)
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidEmailAddress) {
			if s, ok := n.Value.(string); ok {
				raw = append(raw, s)
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, a := range raw {
		if n, err := normalizeAddress(a, rule); err == nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// selfSignedEndEntity reports whether a certificate marked CA:TRUE is a user's own
// self-signed certificate, as gpgsm and `openssl req -x509` make them: self-signed, with an
// e-mail address, and a key usage (when present) that allows signing or encrypting mail. Such a
// certificate is imported as the user's S/MIME certificate; only --trust would make it a trust
// anchor.
func selfSignedEndEntity(c *x509.Certificate) bool {
	// Not CheckSignatureFrom: it wants keyCertSign, which these lack.
	if !bytes.Equal(c.RawIssuer, c.RawSubject) || smime.CheckCertSignature(c, c) != nil || len(certAddresses(c, address.Subaddressing{})) == 0 {
		return false
	}
	const mailUsages = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement
	return (c.KeyUsage == 0 || c.KeyUsage&mailUsages != 0) && smime.EmailProtection(c)
}

// certAlgorithm names a certificate's key algorithm: "rsa3072", "rsa-pss2048" (a key
// restricted to RSASSA-PSS signatures), "ecdsa-p256", "ed25519".
func certAlgorithm(c *x509.Certificate) string {
	if p, ok := c.PublicKey.(*rsa.PublicKey); ok && smime.IsRSAPSS(c) {
		return fmt.Sprintf("rsa-pss%d", p.N.BitLen())
	}
	return publicKeyAlgorithm(c.PublicKey)
}

func publicKeyAlgorithm(pub any) string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", p.N.BitLen())
	case *ecdsa.PublicKey:
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(p.Curve.Params().Name, "-", ""))
	case ed25519.PublicKey:
		return "ed25519"
	}
	if pub == nil {
		return "unknown"
	}
	return fmt.Sprintf("%T", pub)
}

// certRecord describes a certificate as a record of the given scheme (without trust, source
// or sealed key).
func certRecord(c *x509.Certificate, scheme Scheme, rule address.Subaddressing) Record {
	r := Record{Entry: Entry{
		Fingerprint: smime.Fingerprint(c),
		Scheme:      scheme,
		Algorithm:   certAlgorithm(c),
		Created:     c.NotBefore.UTC(),
		Expires:     c.NotAfter.UTC(),
	}, Public: c.Raw}
	if scheme == SchemeSMIME {
		r.Addresses = certAddresses(c, rule)
	}
	r.IssuerSerial = issuerSerialKey(c.RawIssuer, c.SerialNumber)
	if len(c.SubjectKeyId) > 0 {
		r.SubjectKeyID = strings.ToUpper(hex.EncodeToString(c.SubjectKeyId))
	}
	return r
}

// pemInput is what a PEM file held.
type pemInput struct {
	certs []*x509.Certificate
	keys  []crypto.Signer
}

func parsePEM(data []byte) (pemInput, error) {
	var in pemInput
	rest := data
	blocks := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		switch b.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
			c, err := smime.ParseCertificate(b.Bytes)
			if err != nil {
				return in, fmt.Errorf("%w: certificate does not parse: %v", ErrRefused, err)
			}
			in.certs = append(in.certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			k, err := parsePrivateKey(b.Type, b.Bytes)
			if err != nil {
				return in, err
			}
			in.keys = append(in.keys, k)
		case "ENCRYPTED PRIVATE KEY":
			return in, fmt.Errorf("%w: encrypted PEM private keys are not supported; give the key and certificate as PKCS#12 or an unencrypted PEM key", ErrRefused)
		default:
			return in, fmt.Errorf("%w: unsupported PEM block %q", ErrRefused, b.Type)
		}
	}
	if blocks == 0 || len(bytes.TrimSpace(rest)) > 0 && bytes.Contains(rest, []byte("-----BEGIN")) {
		return in, fmt.Errorf("%w: damaged PEM data", ErrRefused)
	}
	return in, nil
}

func parsePrivateKey(typ string, der []byte) (crypto.Signer, error) {
	var k any
	var err error
	switch typ {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	default:
		// RSASSA-PSS keys too, which crypto/x509 does not read.
		k, err = smime.ParsePrivateKey(der)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: private key does not parse: %v", ErrRefused, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported private key type %T", ErrRefused, k)
	}
	return s, nil
}

// keyMatches reports whether priv is the private key of cert.
func keyMatches(priv crypto.Signer, cert *x509.Certificate) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := priv.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}

// marshalX509Key encodes a private key as PKCS#8, with the id-RSASSA-PSS algorithm when its
// certificate's key is PSS-restricted (the form OpenSSL and gpgsm expect for such a key).
func marshalX509Key(priv crypto.Signer, certDER []byte) ([]byte, error) {
	if rk, ok := priv.(*rsa.PrivateKey); ok {
		if c, err := smime.ParseCertificate(certDER); err == nil && smime.IsRSAPSS(c) {
			return smime.MarshalPSSPrivateKey(rk)
		}
	}
	return x509.MarshalPKCS8PrivateKey(priv)
}

func (k *Keyring) sealX509Key(fpr string, priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return k.mk.Seal(x509SealPurpose(fpr), der)
}

func (k *Keyring) openX509Key(r Record) (crypto.Signer, error) {
	if r.Sealed == nil {
		return nil, ErrNotFound
	}
	der, err := k.mk.Open(x509SealPurpose(r.Fingerprint), r.Sealed)
	if err != nil {
		return nil, fmt.Errorf("keys: private key %s: %w", r.Fingerprint, err)
	}
	return parsePrivateKey("PRIVATE KEY", der)
}

func concatDER(certs []*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, c.Raw...)
	}
	return b
}
