package smime

import (
	"crypto"
	"crypto/aes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
)

// kariEncrypt builds a KeyAgreeRecipientInfo ([1] IMPLICIT) for an EC
// recipient: ephemeral-static ECDH, ANSI X9.63 KDF with SHA-256, AES key
// wrap (RFC 5753 dhSinglePass-stdDH-sha256kdf-scheme).
func kariEncrypt(pub *ecdsa.PublicKey, rid []byte, cek []byte) ([]byte, error) {
	rpub, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	eph, err := rpub.Curve().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	z, err := eph.ECDH(rpub)
	if err != nil {
		return nil, err
	}
	wrapOID := oidAES256Wrap
	if len(cek) == 16 {
		wrapOID = oidAES128Wrap
	}
	wrapAlg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: wrapOID})
	kek := x963KDF(crypto.SHA256, z, sharedInfo(wrapAlg, nil, len(cek)), len(cek))
	wrapped, err := aesKeyWrap(kek, cek)
	if err != nil {
		return nil, err
	}
	opk, err := asn1.Marshal(originatorPublicKey{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey},
		PublicKey: asn1.BitString{Bytes: eph.PublicKey().Bytes(), BitLength: 8 * len(eph.PublicKey().Bytes())},
	})
	if err != nil {
		return nil, err
	}
	opk[0] = 0xa1 // originatorKey [1] IMPLICIT
	type kariOut struct {
		Version       int
		Originator    asn1.RawValue
		KeyEncAlg     pkix.AlgorithmIdentifier
		RecipientKeys []recipientEncryptedKey
	}
	out, err := asn1.Marshal(kariOut{
		Version:    3,
		Originator: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: opk},
		KeyEncAlg:  pkix.AlgorithmIdentifier{Algorithm: oidDHSinglePassSHA256, Parameters: asn1.RawValue{FullBytes: wrapAlg}},
		RecipientKeys: []recipientEncryptedKey{{
			RID: asn1.RawValue{FullBytes: rid}, EncryptedKey: wrapped,
		}},
	})
	if err != nil {
		return nil, err
	}
	out[0] = 0xa1 // kari [1] IMPLICIT
	return out, nil
}

func kariDecrypt(full []byte, cert *x509.Certificate, priv *ecdsa.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, errNotForUs
	}
	b := append([]byte{0x30}, full[1:]...)
	var ka keyAgreeRecipientInfo
	if _, err := asn1.Unmarshal(b, &ka); err != nil {
		return nil, fmt.Errorf("%w: KeyAgreeRecipientInfo: %v", ErrMalformed, err)
	}
	var wrapped []byte
	for _, rk := range ka.RecipientKeys {
		if kariRIDMatches(rk.RID, cert) {
			wrapped = rk.EncryptedKey
			break
		}
	}
	if wrapped == nil {
		return nil, errNotForUs
	}
	orig := ka.Originator
	if orig.Class == asn1.ClassContextSpecific && orig.Tag == 0 && orig.IsCompound {
		// encoding/asn1 hands a RawValue the explicit [0] wrapper itself
		var in asn1.RawValue
		if _, err := asn1.Unmarshal(orig.Bytes, &in); err != nil {
			return nil, fmt.Errorf("%w: originator: %v", ErrMalformed, err)
		}
		orig = in
	}
	if !(orig.Class == asn1.ClassContextSpecific && orig.Tag == 1) {
		return nil, fmt.Errorf("%w: originator is not an ephemeral key", ErrUnsupported)
	}
	ob := append([]byte{0x30}, orig.FullBytes[1:]...)
	var opk originatorPublicKey
	if _, err := asn1.Unmarshal(ob, &opk); err != nil {
		return nil, fmt.Errorf("%w: originator key: %v", ErrMalformed, err)
	}
	epriv, err := priv.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	epub, err := epriv.Curve().NewPublicKey(opk.PublicKey.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: originator point: %v", ErrMalformed, err)
	}
	z, err := epriv.ECDH(epub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var h crypto.Hash
	switch o := ka.KeyEncAlg.Algorithm; {
	case o.Equal(oidDHSinglePassSHA1KDF), o.Equal(oidDHCofactorSHA1KDF):
		h = crypto.SHA1
	case o.Equal(oidDHSinglePassSHA224), o.Equal(oidDHCofactorSHA224):
		h = crypto.SHA224
	case o.Equal(oidDHSinglePassSHA256), o.Equal(oidDHCofactorSHA256):
		h = crypto.SHA256
	case o.Equal(oidDHSinglePassSHA384), o.Equal(oidDHCofactorSHA384):
		h = crypto.SHA384
	case o.Equal(oidDHSinglePassSHA512), o.Equal(oidDHCofactorSHA512):
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("%w: key agreement %v", ErrUnsupported, o)
	}
	wrapAlgDER := ka.KeyEncAlg.Parameters.FullBytes
	var wrapAlg pkix.AlgorithmIdentifier
	if _, err := asn1.Unmarshal(wrapAlgDER, &wrapAlg); err != nil {
		return nil, fmt.Errorf("%w: key wrap algorithm: %v", ErrMalformed, err)
	}
	var kekLen int
	switch o := wrapAlg.Algorithm; {
	case o.Equal(oidAES128Wrap):
		kekLen = 16
	case o.Equal(oidAES192Wrap):
		kekLen = 24
	case o.Equal(oidAES256Wrap):
		kekLen = 32
	default:
		return nil, fmt.Errorf("%w: key wrap %v", ErrUnsupported, o)
	}
	kek := x963KDF(h, z, sharedInfo(wrapAlgDER, ka.UKM, kekLen), kekLen)
	cek, err := aesKeyUnwrap(kek, wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	return cek, nil
}

func kariRIDMatches(rid asn1.RawValue, cert *x509.Certificate) bool {
	if cert == nil {
		return true
	}
	if rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 {
		// rKeyId RecipientKeyIdentifier: SEQUENCE { subjectKeyIdentifier, ... }
		var ski []byte
		if _, err := asn1.Unmarshal(rid.Bytes, &ski); err != nil {
			return false
		}
		return string(ski) == string(cert.SubjectKeyId)
	}
	return ridMatches(rid, cert)
}

// sharedInfo encodes ECC-CMS-SharedInfo (RFC 5753 §7.2).
func sharedInfo(wrapAlgDER, ukm []byte, kekLen int) []byte {
	var body []byte
	body = append(body, wrapAlgDER...)
	if len(ukm) > 0 {
		u, _ := asn1.Marshal(ukm)
		e, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: u})
		body = append(body, e...)
	}
	var bits [4]byte
	binary.BigEndian.PutUint32(bits[:], uint32(kekLen*8))
	o, _ := asn1.Marshal(bits[:])
	e, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: o})
	body = append(body, e...)
	out, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	return out
}

// x963KDF is the ANSI X9.63 key derivation function.
func x963KDF(h crypto.Hash, z, info []byte, n int) []byte {
	var out []byte
	for counter := uint32(1); len(out) < n; counter++ {
		d := newHash(h)
		d.Write(z)
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], counter)
		d.Write(c[:])
		d.Write(info)
		out = d.Sum(out)
	}
	return out[:n]
}

var keyWrapIV = []byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}

// aesKeyWrap implements RFC 3394.
func aesKeyWrap(kek, key []byte) ([]byte, error) {
	if len(key)%8 != 0 || len(key) < 16 {
		return nil, errors.New("smime: key wrap input length")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(key) / 8
	a := append([]byte{}, keyWrapIV...)
	r := append([]byte{}, key...)
	buf := make([]byte, 16)
	for j := 0; j < 6; j++ {
		for i := 0; i < n; i++ {
			copy(buf, a)
			copy(buf[8:], r[i*8:i*8+8])
			block.Encrypt(buf, buf)
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(a, binary.BigEndian.Uint64(buf[:8])^t)
			copy(r[i*8:], buf[8:])
		}
	}
	return append(a, r...), nil
}

func aesKeyUnwrap(kek, wrapped []byte) ([]byte, error) {
	if len(wrapped)%8 != 0 || len(wrapped) < 24 {
		return nil, errors.New("key unwrap input length")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(wrapped)/8 - 1
	a := append([]byte{}, wrapped[:8]...)
	r := append([]byte{}, wrapped[8:]...)
	buf := make([]byte, 16)
	for j := 5; j >= 0; j-- {
		for i := n - 1; i >= 0; i-- {
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(buf, binary.BigEndian.Uint64(a)^t)
			copy(buf[8:], r[i*8:i*8+8])
			block.Decrypt(buf, buf)
			copy(a, buf[:8])
			copy(r[i*8:], buf[8:])
		}
	}
	if subtle.ConstantTimeCompare(a, keyWrapIV) != 1 {
		return nil, errors.New("key unwrap integrity check failed")
	}
	return r, nil
}

var _ = ecdh.P256
