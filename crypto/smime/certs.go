package smime

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// RSASSA-PSS keys (RFC 4055) are RSA keys restricted to PSS signatures:
// their SubjectPublicKeyInfo and PKCS #8 algorithm is id-RSASSA-PSS
// instead of rsaEncryption. crypto/x509 leaves such a certificate's
// PublicKey nil and refuses such a private key, so every certificate and
// key this package and its callers read goes through ParseCertificate and
// ParsePrivateKey, which give them their *rsa.PublicKey / *rsa.PrivateKey.
// A PSS-restricted key signs with PSS only and is never used for
// encryption (RFC 4055 §1.2).

// ParseCertificate parses a DER certificate like x509.ParseCertificate,
// and also gives an RSASSA-PSS certificate its RSA public key.
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := fillPSSKey(c); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseCertificates parses concatenated DER certificates like
// x509.ParseCertificates, with ParseCertificate's RSASSA-PSS support.
func ParseCertificates(der []byte) ([]*x509.Certificate, error) {
	cs, err := x509.ParseCertificates(der)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if err := fillPSSKey(c); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// IsRSAPSS reports whether the certificate's key is restricted to
// RSASSA-PSS.
func IsRSAPSS(c *x509.Certificate) bool {
	alg, ok := spkiAlgorithm(c)
	return ok && alg.Algorithm.Equal(oidRSASSAPSS)
}

// spkiAlgorithm returns the algorithm of c's SubjectPublicKeyInfo.
func spkiAlgorithm(c *x509.Certificate) (pkix.AlgorithmIdentifier, bool) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return pkix.AlgorithmIdentifier{}, false
	}
	return spki.Algorithm, true
}

// fillPSSKey sets PublicKey and PublicKeyAlgorithm of an RSASSA-PSS
// certificate, so that chain building and signature checks use it.
func fillPSSKey(c *x509.Certificate) error {
	if c.PublicKey != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil || !spki.Algorithm.Algorithm.Equal(oidRSASSAPSS) {
		return nil // another unknown algorithm: left to the caller
	}
	pub, err := x509.ParsePKCS1PublicKey(spki.PublicKey.RightAlign())
	if err != nil {
		return fmt.Errorf("x509: RSASSA-PSS public key: %w", err)
	}
	c.PublicKey, c.PublicKeyAlgorithm = pub, x509.RSA
	return nil
}

// ParsePrivateKey parses a PKCS #8 private key like
// x509.ParsePKCS8PrivateKey, and also an RSASSA-PSS one.
func ParsePrivateKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		var p8 struct {
			Version    int
			Algorithm  pkix.AlgorithmIdentifier
			PrivateKey []byte
		}
		if _, perr := asn1.Unmarshal(der, &p8); perr != nil || !p8.Algorithm.Algorithm.Equal(oidRSASSAPSS) {
			return nil, err
		}
		rk, perr := x509.ParsePKCS1PrivateKey(p8.PrivateKey)
		if perr != nil {
			return nil, fmt.Errorf("x509: RSASSA-PSS private key: %w", perr)
		}
		return rk, nil
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: private key type %T", ErrUnsupported, k)
	}
	return s, nil
}

// MarshalPSSPrivateKey encodes an RSA key as PKCS #8 with the
// id-RSASSA-PSS algorithm (no parameters), the form of the certificate it
// belongs to.
func MarshalPSSPrivateKey(k *rsa.PrivateKey) ([]byte, error) {
	return asn1.Marshal(struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS}, x509.MarshalPKCS1PrivateKey(k)})
}

// pssParams is RSASSA-PSS-params (RFC 4055 §3.1).
type pssParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	SaltLength   int                      `asn1:"explicit,optional,tag:2,default:20"`
	TrailerField int                      `asn1:"explicit,optional,tag:3,default:1"`
}

var errPSSParams = errors.New("RSASSA-PSS parameters")

// pssOptions reads RSASSA-PSS-params: the hash (also for MGF1, the only
// combination crypto/rsa implements) and the salt length.
func pssOptions(params []byte) (crypto.Hash, *rsa.PSSOptions, error) {
	p := pssParams{SaltLength: 20, TrailerField: 1}
	if len(params) > 0 && string(params) != string(asn1.NullBytes) {
		if _, err := asn1.Unmarshal(params, &p); err != nil {
			return 0, nil, fmt.Errorf("%w: %v", errPSSParams, err)
		}
	}
	h := crypto.SHA1
	if len(p.Hash.Algorithm) > 0 {
		var ok bool
		if h, ok = hashForOID(p.Hash.Algorithm); !ok {
			return 0, nil, fmt.Errorf("%w: hash %v", ErrUnsupported, p.Hash.Algorithm)
		}
	}
	mgfHash := crypto.SHA1
	if len(p.MGF.Algorithm) > 0 {
		var mh pkix.AlgorithmIdentifier
		if !p.MGF.Algorithm.Equal(oidMGF1) {
			return 0, nil, fmt.Errorf("%w: mask generation %v", ErrUnsupported, p.MGF.Algorithm)
		}
		if _, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mh); err != nil {
			return 0, nil, fmt.Errorf("%w: MGF1 hash: %v", errPSSParams, err)
		}
		var ok bool
		if mgfHash, ok = hashForOID(mh.Algorithm); !ok {
			return 0, nil, fmt.Errorf("%w: MGF1 hash %v", ErrUnsupported, mh.Algorithm)
		}
	}
	if mgfHash != h {
		return 0, nil, fmt.Errorf("%w: MGF1 hash differs from the signature hash", ErrUnsupported)
	}
	if p.TrailerField != 1 || p.SaltLength < 0 {
		return 0, nil, fmt.Errorf("%w: trailer field or salt length", errPSSParams)
	}
	return h, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: h}, nil
}

// pssAlgorithm is the AlgorithmIdentifier of RSASSA-PSS with SHA-256,
// MGF1-SHA-256 and a 32-byte salt, as OpenSSL and NSS write it.
func pssAlgorithm() pkix.AlgorithmIdentifier {
	sha := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
	mgfParams, _ := asn1.Marshal(sha)
	params, _ := asn1.Marshal(pssParams{
		Hash:         sha,
		MGF:          pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: mgfParams}},
		SaltLength:   32,
		TrailerField: 1,
	})
	return pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: asn1.RawValue{FullBytes: params}}
}

// CheckCertSignature checks that parent's key signed c (without the CA
// checks of x509.Certificate.CheckSignatureFrom), also for RSASSA-PSS
// parameters crypto/x509 does not implement: OpenSSL signs with a PSS-
// restricted key using the longest salt, which crypto/x509 calls an
// unknown algorithm.
func CheckCertSignature(c, parent *x509.Certificate) error {
	err := parent.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	if err == nil || c.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		return err
	}
	var raw struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, perr := asn1.Unmarshal(c.Raw, &raw); perr != nil || !raw.Algorithm.Algorithm.Equal(oidRSASSAPSS) {
		return err
	}
	pub, ok := parent.PublicKey.(*rsa.PublicKey)
	if !ok {
		return err
	}
	h, opts, perr := pssOptions(raw.Algorithm.Parameters.FullBytes)
	if perr != nil {
		return perr
	}
	d := newHash(h)
	d.Write(c.RawTBSCertificate)
	return rsa.VerifyPSS(pub, h, d.Sum(nil), raw.Signature.RightAlign(), opts)
}

// Encryptable reports whether mail can be encrypted to the certificate's
// key: RSA that is not PSS-restricted (key transport), or EC on a curve
// with ECDH (key agreement). Key usage is the caller's to check.
func Encryptable(c *x509.Certificate) bool {
	switch pub := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return !IsRSAPSS(c)
	case *ecdsa.PublicKey:
		_, err := pub.ECDH()
		return err == nil
	}
	return false
}
