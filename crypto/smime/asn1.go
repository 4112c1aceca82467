package smime

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
)

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidEnvelopedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidAuthEnvelopedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 23}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSMIMECaps       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 15}
	oidRSAEncryption       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAESOAEP           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	oidMGF1                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSAWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECPublicKey         = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSHA1                = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidAES128CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES128GCM           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}
	oidAES192GCM           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 26}
	oidAES256GCM           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}
	oidAES128Wrap          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 5}
	oidAES192Wrap          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 25}
	oidAES256Wrap          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 45}
	oidDESEDE3CBC          = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidDHSinglePassSHA1KDF = asn1.ObjectIdentifier{1, 3, 133, 16, 840, 63, 0, 2}
	oidDHSinglePassSHA224  = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 0}
	oidDHSinglePassSHA256  = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 1}
	oidDHSinglePassSHA384  = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 2}
	oidDHSinglePassSHA512  = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 3}
	// Cofactor ECDH (RFC 5753 §7.1.4, SEC 1): on the prime curves crypto/ecdh implements the
	// cofactor is 1, so the shared secret is the standard one.
	oidDHCofactorSHA1KDF = asn1.ObjectIdentifier{1, 3, 133, 16, 840, 63, 0, 3}
	oidDHCofactorSHA224  = asn1.ObjectIdentifier{1, 3, 132, 1, 14, 0}
	oidDHCofactorSHA256  = asn1.ObjectIdentifier{1, 3, 132, 1, 14, 1}
	oidDHCofactorSHA384  = asn1.ObjectIdentifier{1, 3, 132, 1, 14, 2}
	oidDHCofactorSHA512  = asn1.ObjectIdentifier{1, 3, 132, 1, 14, 3}
	oidEmailAddressRDN   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidRSASSAPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
)

func hashForOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, true
	case oid.Equal(oidSHA224):
		return crypto.SHA224, true
	case oid.Equal(oidSHA256):
		return crypto.SHA256, true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type envelopedData struct {
	Version          int
	OriginatorInfo   asn1.RawValue   `asn1:"optional,tag:0"`
	RecipientInfos   []asn1.RawValue `asn1:"set"`
	EncryptedContent encryptedContentInfo
	UnprotectedAttrs asn1.RawValue `asn1:"optional,tag:1"`
}

type authEnvelopedData struct {
	Version          int
	OriginatorInfo   asn1.RawValue   `asn1:"optional,tag:0"`
	RecipientInfos   []asn1.RawValue `asn1:"set"`
	EncryptedContent encryptedContentInfo
	AuthAttrs        asn1.RawValue `asn1:"optional,tag:1"`
	MAC              []byte
	UnauthAttrs      asn1.RawValue `asn1:"optional,tag:2"`
}

type encryptedContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Algorithm   pkix.AlgorithmIdentifier
	Content     asn1.RawValue `asn1:"optional,tag:0"`
}

type keyTransRecipientInfo struct {
	Version      int
	RID          asn1.RawValue
	KeyEncAlg    pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

type keyAgreeRecipientInfo struct {
	Version       int
	Originator    asn1.RawValue `asn1:"explicit,tag:0"`
	UKM           []byte        `asn1:"explicit,optional,tag:1"`
	KeyEncAlg     pkix.AlgorithmIdentifier
	RecipientKeys []recipientEncryptedKey
}

type recipientEncryptedKey struct {
	RID          asn1.RawValue
	EncryptedKey []byte
}

type originatorPublicKey struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

type rsaOAEPParams struct {
	Hash    pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF     pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	PSource pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:2"`
}

type gcmParams struct {
	Nonce  []byte
	ICVLen int `asn1:"optional,default:12"`
}

// signerInfo is a SignerInfo (RFC 5652 §5.3), as written and as read: the signer is
// identified by issuer and serial number or (version 3) by subject key identifier, which
// go.mozilla.org/pkcs7 does not read. UnsignedAttrs is left out when empty.
type signerInfo struct {
	Version         int
	SID             asn1.RawValue
	DigestAlgorithm pkix.AlgorithmIdentifier
	SignedAttrs     asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlg    pkix.AlgorithmIdentifier
	Signature       []byte
	UnsignedAttrs   asn1.RawValue `asn1:"optional,tag:1"`
}
