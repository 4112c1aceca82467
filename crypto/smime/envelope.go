package smime

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Cipher selects the content encryption of Encrypt.
type Cipher int

const (
	// AES256CBC: EnvelopedData with AES-256-CBC, read by every client.
	AES256CBC Cipher = iota
	// AES128CBC: EnvelopedData with AES-128-CBC.
	AES128CBC
	// AES256GCM: AuthEnvelopedData (RFC 5083/5084) with AES-256-GCM, for
	// recipients that announce it.
	AES256GCM
	// AES128GCM: AuthEnvelopedData with AES-128-GCM.
	AES128GCM
)

// KeyTransport selects how the content key is encrypted to RSA recipients.
type KeyTransport int

const (
	// RSAPKCS1v15 is the classic key transport every client reads.
	RSAPKCS1v15 KeyTransport = iota
	// RSAOAEP is RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017, RFC 4055).
	RSAOAEP
)

// envelope builds the DER ContentInfo of an (Auth)EnvelopedData holding
// content for the recipients. EC recipients use ECDH key agreement
// (RFC 5753, dhSinglePass-stdDH-sha256kdf with AES key wrap).
func envelope(content []byte, recipients []*x509.Certificate, c Cipher, kt KeyTransport) ([]byte, error) {
	keyLen := 32
	if c == AES128CBC || c == AES128GCM {
		keyLen = 16
	}
	cek := make([]byte, keyLen)
	if _, err := rand.Read(cek); err != nil {
		return nil, err
	}
	var ris []asn1.RawValue
	for _, cert := range recipients {
		ri, err := recipientInfo(cert, cek, kt)
		if err != nil {
			return nil, err
		}
		ris = append(ris, asn1.RawValue{FullBytes: ri})
	}
	block, _ := aes.NewCipher(cek)
	switch c {
	case AES256GCM, AES128GCM:
		nonce := make([]byte, 12)
		rand.Read(nonce)
		gcm, _ := cipher.NewGCM(block)
		sealed := gcm.Seal(nil, nonce, content, nil)
		ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
		params, _ := asn1.Marshal(gcmParams{Nonce: nonce, ICVLen: 16})
		oid := oidAES256GCM
		if c == AES128GCM {
			oid = oidAES128GCM
		}
		aed := authEnvelopedData{
			RecipientInfos: ris,
			EncryptedContent: encryptedContentInfo{
				ContentType: oidData,
				Algorithm:   pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}},
				Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct},
			},
			MAC: tag,
		}
		return wrapContentInfo(oidAuthEnvelopedData, aed)
	default:
		iv := make([]byte, aes.BlockSize)
		rand.Read(iv)
		padded := pkcs7Pad(content, aes.BlockSize)
		ct := make([]byte, len(padded))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
		ivDER, _ := asn1.Marshal(iv)
		oid := oidAES256CBC
		if c == AES128CBC {
			oid = oidAES128CBC
		}
		version := 0
		for _, r := range recipients {
			if _, ok := r.PublicKey.(*ecdsa.PublicKey); ok {
				version = 2
			}
		}
		ed := envelopedData{
			Version:        version,
			RecipientInfos: ris,
			EncryptedContent: encryptedContentInfo{
				ContentType: oidData,
				Algorithm:   pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: ivDER}},
				Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct},
			},
		}
		return wrapContentInfo(oidEnvelopedData, ed)
	}
}

func wrapContentInfo(oid asn1.ObjectIdentifier, v any) ([]byte, error) {
	inner, err := asn1.Marshal(v)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: oid, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
}

func recipientInfo(cert *x509.Certificate, cek []byte, kt KeyTransport) ([]byte, error) {
	ias, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})
	if err != nil {
		return nil, err
	}
	if IsRSAPSS(cert) {
		return nil, fmt.Errorf("%w: the key of %s is restricted to RSASSA-PSS signatures and cannot receive encrypted mail", ErrBadCertificate, cert.Subject)
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		var ek []byte
		alg := pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
		if kt == RSAOAEP {
			ek, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
			sha256Alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256}
			mgfParams, _ := asn1.Marshal(sha256Alg)
			params, _ := asn1.Marshal(rsaOAEPParams{
				Hash: sha256Alg,
				MGF:  pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: mgfParams}},
			})
			// PSource is left at its default (empty label): drop the
			// zero-valued [2] that encoding/asn1 would otherwise emit.
			params = stripEmptyPSource(params)
			alg = pkix.AlgorithmIdentifier{Algorithm: oidRSAESOAEP, Parameters: asn1.RawValue{FullBytes: params}}
		} else {
			//lint:ignore SA1019 PKCS #1 v1.5 key transport is what RFC 8551 requires and every S/MIME client reads; OAEP is used when asked for.
			ek, err = rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
		}
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(keyTransRecipientInfo{RID: asn1.RawValue{FullBytes: ias}, KeyEncAlg: alg, EncryptedKey: ek})
	case *ecdsa.PublicKey:
		return kariEncrypt(pub, ias, cek)
	}
	return nil, fmt.Errorf("%w: unsupported public key %T in %s", ErrBadCertificate, cert.PublicKey, cert.Subject)
}

// stripEmptyPSource removes a trailing empty [2] element from a
// RSAES-OAEP-params SEQUENCE.
func stripEmptyPSource(b []byte) []byte {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(b, &seq); err != nil {
		return b
	}
	var kept []byte
	rest := seq.Bytes
	for len(rest) > 0 {
		var el asn1.RawValue
		r, err := asn1.Unmarshal(rest, &el)
		if err != nil {
			return b
		}
		if !(el.Class == asn1.ClassContextSpecific && el.Tag == 2) {
			kept = append(kept, el.FullBytes...)
		}
		rest = r
	}
	out, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: kept})
	return out
}

// decryptEnveloped opens a DER ContentInfo holding EnvelopedData or
// AuthEnvelopedData with the recipient's certificate and key.
func decryptEnveloped(der []byte, cert *x509.Certificate, key crypto.PrivateKey) ([]byte, Info, error) {
	var info Info
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, info, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var ris []asn1.RawValue
	var eci encryptedContentInfo
	var mac, aad []byte
	switch {
	case ci.ContentType.Equal(oidEnvelopedData):
		var ed envelopedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
			return nil, info, fmt.Errorf("%w: EnvelopedData: %v", ErrMalformed, err)
		}
		ris, eci = ed.RecipientInfos, ed.EncryptedContent
	case ci.ContentType.Equal(oidAuthEnvelopedData):
		var aed authEnvelopedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &aed); err != nil {
			return nil, info, fmt.Errorf("%w: AuthEnvelopedData: %v", ErrMalformed, err)
		}
		ris, eci, mac = aed.RecipientInfos, aed.EncryptedContent, aed.MAC
		info.Authenticated = true
		if len(aed.AuthAttrs.FullBytes) > 0 {
			aad = append([]byte{0x31}, aed.AuthAttrs.FullBytes[1:]...)
		}
	default:
		return nil, info, fmt.Errorf("%w: content type %v is not enveloped", ErrNotEncrypted, ci.ContentType)
	}
	info.ContentCipher = cipherName(eci.Algorithm.Algorithm)
	var cek []byte
	var lastErr error = ErrNoKey
	for _, ri := range ris {
		k, kt, err := openRecipient(ri, cert, key)
		if err != nil {
			if !errors.Is(err, errNotForUs) {
				lastErr = err
			}
			continue
		}
		cek, info.KeyTransport = k, kt
		break
	}
	if cek == nil {
		return nil, info, lastErr
	}
	ct := eci.Content.Bytes
	if eci.Content.IsCompound {
		var err error
		if ct, err = joinOctets(ct); err != nil {
			return nil, info, fmt.Errorf("%w: encrypted content: %v", ErrMalformed, err)
		}
	}
	pt, err := decryptContent(eci.Algorithm, cek, ct, mac, aad)
	if err != nil {
		return nil, info, err
	}
	return pt, info, nil
}

var errNotForUs = errors.New("smime: recipient info for another key")

func openRecipient(ri asn1.RawValue, cert *x509.Certificate, key crypto.PrivateKey) ([]byte, string, error) {
	switch {
	case ri.Class == asn1.ClassUniversal && ri.Tag == asn1.TagSequence:
		var kt keyTransRecipientInfo
		if _, err := asn1.Unmarshal(ri.FullBytes, &kt); err != nil {
			return nil, "", fmt.Errorf("%w: KeyTransRecipientInfo: %v", ErrMalformed, err)
		}
		if !ridMatches(kt.RID, cert) {
			return nil, "", errNotForUs
		}
		dec, ok := key.(crypto.Decrypter)
		if !ok {
			return nil, "", fmt.Errorf("%w: key cannot decrypt", ErrNoKey)
		}
		if _, isRSA := dec.Public().(*rsa.PublicKey); !isRSA {
			return nil, "", errNotForUs
		}
		switch {
		case kt.KeyEncAlg.Algorithm.Equal(oidRSAEncryption):
			//lint:ignore SA1019 mail from Outlook, Thunderbird and OpenSSL uses PKCS #1 v1.5 key transport by default.
			k, err := dec.Decrypt(rand.Reader, kt.EncryptedKey, &rsa.PKCS1v15DecryptOptions{})
			if err != nil {
				return nil, "", fmt.Errorf("%w: %v", ErrNoKey, err)
			}
			return k, "rsa-pkcs1v15", nil
		case kt.KeyEncAlg.Algorithm.Equal(oidRSAESOAEP):
			opts, err := oaepOptions(kt.KeyEncAlg.Parameters.FullBytes)
			if err != nil {
				return nil, "", err
			}
			k, err := dec.Decrypt(rand.Reader, kt.EncryptedKey, opts)
			if err != nil {
				return nil, "", fmt.Errorf("%w: %v", ErrNoKey, err)
			}
			return k, "rsa-oaep", nil
		}
		return nil, "", fmt.Errorf("%w: key transport %v", ErrUnsupported, kt.KeyEncAlg.Algorithm)
	case ri.Class == asn1.ClassContextSpecific && ri.Tag == 1:
		priv, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			if _, isEC := key.(*ecdh.PrivateKey); !isEC {
				return nil, "", errNotForUs
			}
		}
		k, err := kariDecrypt(ri.FullBytes, cert, priv)
		return k, "ecdh", err
	}
	return nil, "", errNotForUs
}

func ridMatches(rid asn1.RawValue, cert *x509.Certificate) bool {
	if cert == nil {
		return true
	}
	if rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 {
		return bytes.Equal(rid.Bytes, cert.SubjectKeyId)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(rid.FullBytes, &ias); err != nil {
		return false
	}
	return bytes.Equal(ias.Issuer.FullBytes, cert.RawIssuer) && ias.Serial != nil && ias.Serial.Cmp(cert.SerialNumber) == 0
}

func oaepOptions(params []byte) (*rsa.OAEPOptions, error) {
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if len(params) == 0 || bytes.Equal(params, asn1.NullBytes) {
		return opts, nil
	}
	var p rsaOAEPParams
	if _, err := asn1.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("%w: OAEP parameters: %v", ErrMalformed, err)
	}
	if len(p.Hash.Algorithm) > 0 {
		h, ok := hashForOID(p.Hash.Algorithm)
		if !ok {
			return nil, fmt.Errorf("%w: OAEP hash %v", ErrUnsupported, p.Hash.Algorithm)
		}
		opts.Hash, opts.MGFHash = h, crypto.SHA1
	}
	if len(p.MGF.Algorithm) > 0 {
		var mh pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mh); err != nil {
			return nil, fmt.Errorf("%w: MGF parameters: %v", ErrMalformed, err)
		}
		h, ok := hashForOID(mh.Algorithm)
		if !ok {
			return nil, fmt.Errorf("%w: MGF hash %v", ErrUnsupported, mh.Algorithm)
		}
		opts.MGFHash = h
	}
	if len(p.PSource.Algorithm) > 0 && len(p.PSource.Parameters.FullBytes) > 0 {
		var label []byte
		if _, err := asn1.Unmarshal(p.PSource.Parameters.FullBytes, &label); err == nil {
			opts.Label = label
		}
	}
	return opts, nil
}

// cipherMode is how a content cipher is used.
type cipherMode int

const (
	aesGCM cipherMode = iota + 1
	aesCBC
	des3CBC
)

// contentCiphers are the content-encryption algorithms Decrypt reads, with the names
// Info.ContentCipher reports.
var contentCiphers = []struct {
	oid  asn1.ObjectIdentifier
	name string
	mode cipherMode
}{
	{oidAES128CBC, "aes128-cbc", aesCBC},
	{oidAES192CBC, "aes192-cbc", aesCBC},
	{oidAES256CBC, "aes256-cbc", aesCBC},
	{oidAES128GCM, "aes128-gcm", aesGCM},
	{oidAES192GCM, "aes192-gcm", aesGCM},
	{oidAES256GCM, "aes256-gcm", aesGCM},
	{oidDESEDE3CBC, "des-ede3-cbc", des3CBC},
}

// contentCipher is the name and mode of the content cipher o; ok is false for one Decrypt
// does not read.
func contentCipher(o asn1.ObjectIdentifier) (name string, mode cipherMode, ok bool) {
	for _, c := range contentCiphers {
		if o.Equal(c.oid) {
			return c.name, c.mode, true
		}
	}
	return "", 0, false
}

func decryptContent(alg pkix.AlgorithmIdentifier, cek, ct, mac, aad []byte) ([]byte, error) {
	o := alg.Algorithm
	_, mode, _ := contentCipher(o)
	switch mode {
	case aesGCM:
		var p gcmParams
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
			return nil, fmt.Errorf("%w: GCM parameters: %v", ErrMalformed, err)
		}
		block, err := aes.NewCipher(cek)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if p.ICVLen == 0 {
			p.ICVLen = 12
		}
		var gcm cipher.AEAD
		switch {
		case len(p.Nonce) == 12:
			gcm, err = cipher.NewGCMWithTagSize(block, p.ICVLen)
		case p.ICVLen == 16:
			gcm, err = cipher.NewGCMWithNonceSize(block, len(p.Nonce))
		default:
			err = errors.New("nonce and tag size")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: GCM: %v", ErrUnsupported, err)
		}
		if len(mac) != p.ICVLen {
			return nil, fmt.Errorf("%w: GCM tag length", ErrIntegrity)
		}
		pt, err := gcm.Open(nil, p.Nonce, append(append([]byte{}, ct...), mac...), aad)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIntegrity, err)
		}
		return pt, nil
	}
	var block cipher.Block
	var err error
	switch mode {
	case aesCBC:
		block, err = aes.NewCipher(cek)
	case des3CBC:
		block, err = des.NewTripleDESCipher(cek)
	default:
		return nil, fmt.Errorf("%w: content cipher %v", ErrUnsupported, o)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &iv); err != nil || len(iv) != block.BlockSize() {
		return nil, fmt.Errorf("%w: bad IV", ErrMalformed)
	}
	if len(ct) == 0 || len(ct)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("%w: ciphertext length", ErrMalformed)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > block.BlockSize() || n > len(pt) {
		return nil, fmt.Errorf("%w: bad padding (wrong key?)", ErrNoKey)
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return nil, fmt.Errorf("%w: bad padding (wrong key?)", ErrNoKey)
		}
	}
	return pt[:len(pt)-n], nil
}

func pkcs7Pad(b []byte, bs int) []byte {
	n := bs - len(b)%bs
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

// cipherName names the content cipher o (see contentCiphers), or gives its OID.
func cipherName(o asn1.ObjectIdentifier) string {
	if name, _, ok := contentCipher(o); ok {
		return name
	}
	return o.String()
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA1:
		return sha1.New()
	case crypto.SHA224:
		return sha256.New224()
	case crypto.SHA384:
		return sha512.New384()
	case crypto.SHA512:
		return sha512.New()
	}
	return sha256.New()
}
