package smime

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// SignOptions configures Sign.
type SignOptions struct {
	// Cert is the signer certificate; Key its private key (RSA or ECDSA).
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds intermediate certificates to include.
	Chain []*x509.Certificate
	// Opaque writes application/pkcs7-mime signed-data instead of
	// multipart/signed.
	Opaque bool
	// ProtectedHeaders puts the protected header (crypto/internal/hdrprot)
	// into the signed content, for a message that Encrypt with
	// ProtectedHeaders encrypts next: RFC 9788 wants it on the innermost
	// entity, under the signature.
	ProtectedHeaders bool
	// Now is the clock for signingTime; nil: time.Now.
	Now func() time.Time
}

// Sign reads an RFC 5322 message and writes it signed: multipart/signed
// with a detached SHA-256 SignedData by default, or opaque signed-data.
// The Content-* fields and body are signed in canonical CRLF form and, for
// multipart/signed, written exactly as they were hashed.
func Sign(dst io.Writer, msg io.Reader, opts SignOptions) error {
	if opts.Cert == nil || opts.Key == nil {
		return fmt.Errorf("%w: signer certificate and key are required", ErrBadCertificate)
	}
	t := now(opts.Now)
	if t.Before(opts.Cert.NotBefore) || t.After(opts.Cert.NotAfter) {
		return fmt.Errorf("%w: signer certificate is not valid at %s", ErrBadCertificate, t.Format(time.RFC3339))
	}
	if opts.Cert.KeyUsage != 0 && opts.Cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("%w: certificate may not sign", ErrBadCertificate)
	}
	data, err := readMessage(msg)
	if err != nil {
		return err
	}
	top := mimeutil.ParseEntity(data)
	content := payloadEntity(top, opts.ProtectedHeaders)
	der, err := signedData(content, opts, t)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(dst)
	writeOuter(out, top.Header)
	if opts.Opaque {
		io.WriteString(out, "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n"+
			"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n")
		writeBase64(out, der)
		return out.Flush()
	}
	b := newBoundary()
	fmt.Fprintf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n boundary=\"%s\"\r\n\r\n", b)
	fmt.Fprintf(out, "This is a cryptographically signed message in MIME format.\r\n\r\n--%s\r\n", b)
	out.Write(content)
	fmt.Fprintf(out, "\r\n--%s\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n"+
		"Content-Disposition: attachment; filename=\"smime.p7s\"\r\nContent-Description: S/MIME Cryptographic Signature\r\n\r\n", b)
	writeBase64(out, der)
	fmt.Fprintf(out, "\r\n--%s--\r\n", b)
	return out.Flush()
}

func newBoundary() string {
	var r [16]byte
	rand.Read(r[:])
	return fmt.Sprintf("sg-smime-%x", r)
}

// signedData builds a DER ContentInfo with SignedData over content.
func signedData(content []byte, opts SignOptions, t time.Time) ([]byte, error) {
	digest := sha256.Sum256(content)
	attr := func(oid asn1.ObjectIdentifier, v any) []byte {
		val, err := asn1.Marshal(v)
		if err != nil {
			panic(err) // static types only
		}
		set, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: val})
		o, _ := asn1.Marshal(oid)
		seq, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: append(o, set...)})
		return seq
	}
	caps := []pkix.AlgorithmIdentifier{{Algorithm: oidAES256GCM}, {Algorithm: oidAES256CBC}, {Algorithm: oidAES128CBC}}
	attrs := [][]byte{
		attr(oidAttrContentType, oidData),
		attr(oidAttrSigningTime, t.UTC()),
		attr(oidAttrMessageDigest, digest[:]),
		attr(oidAttrSMIMECaps, caps),
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	setBody := bytes.Join(attrs, nil)
	signedAttrs, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: setBody})
	var sigAlg pkix.AlgorithmIdentifier
	var signerOpts crypto.SignerOpts = crypto.SHA256
	switch opts.Key.Public().(type) {
	case *rsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
		if IsRSAPSS(opts.Cert) {
			// A PSS-restricted key may make PSS signatures only (RFC 4055), within the
			// restrictions its certificate states.
			if alg, ok := spkiAlgorithm(opts.Cert); ok && len(alg.Parameters.FullBytes) > 0 {
				if h, o, err := pssOptions(alg.Parameters.FullBytes); err != nil || h != crypto.SHA256 || o.SaltLength > 32 {
					return nil, fmt.Errorf("%w: the signer key is restricted to PSS parameters other than SHA-256 with a 32-byte salt", ErrUnsupported)
				}
			}
			sigAlg, signerOpts = pssAlgorithm(), &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}
		}
	case *ecdsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrUnsupported, opts.Key.Public())
	}
	h := sha256.Sum256(signedAttrs)
	sig, err := opts.Key.Sign(rand.Reader, h[:], signerOpts)
	if err != nil {
		return nil, err
	}
	sid, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: opts.Cert.RawIssuer}, Serial: new(big.Int).Set(opts.Cert.SerialNumber)})
	if err != nil {
		return nil, err
	}
	attrsTagged := append([]byte{0xa0}, signedAttrs[1:]...)
	si := signerInfo{
		Version:         1,
		SID:             asn1.RawValue{FullBytes: sid},
		DigestAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
		SignedAttrs:     asn1.RawValue{FullBytes: attrsTagged},
		SignatureAlg:    sigAlg,
		Signature:       sig,
	}
	eci := []byte{}
	o, _ := asn1.Marshal(oidData)
	eci = append(eci, o...)
	if opts.Opaque {
		oct, _ := asn1.Marshal(content)
		exp, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct})
		eci = append(eci, exp...)
	}
	eciDER, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: eci})
	certs := []asn1.RawValue{{FullBytes: opts.Cert.Raw}}
	for _, c := range opts.Chain {
		certs = append(certs, asn1.RawValue{FullBytes: c.Raw})
	}
	type signedDataEnc struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		EncapContentInfo asn1.RawValue
		Certificates     []asn1.RawValue `asn1:"optional,set,tag:0"`
		SignerInfos      []signerInfo    `asn1:"set"`
	}
	sd := signedDataEnc{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: oidSHA256}},
		EncapContentInfo: asn1.RawValue{FullBytes: eciDER},
		Certificates:     certs,
		SignerInfos:      []signerInfo{si},
	}
	return wrapContentInfo(oidSignedData, sd)
}
