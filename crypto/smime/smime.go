package smime

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/verdict"
)

// MaxMessageSize caps the messages this package reads, because CMS is
// processed in memory.
const MaxMessageSize = 64 << 20

// Sentinel errors.
var (
	ErrNotEncrypted   = errors.New("smime: message is not S/MIME encrypted")
	ErrNotSigned      = errors.New("smime: message is not S/MIME signed")
	ErrNoKey          = errors.New("smime: the key cannot decrypt this message")
	ErrNoRecipients   = errors.New("smime: no recipients")
	ErrNoTrustStore   = errors.New("smime: verification needs trust roots")
	ErrBadCertificate = errors.New("smime: unusable certificate")
	ErrMalformed      = errors.New("smime: malformed message")
	ErrUnsupported    = errors.New("smime: unsupported algorithm")
	ErrIntegrity      = errors.New("smime: authenticated decryption failed")
	ErrTooLarge       = errors.New("smime: message exceeds MaxMessageSize")
)

// Info describes how a message was encrypted.
type Info struct {
	ContentCipher string // e.g. "aes256-cbc", "aes128-gcm"
	KeyTransport  string // "rsa-pkcs1v15", "rsa-oaep", "ecdh"
	Authenticated bool   // AuthEnvelopedData
}

// Result describes a decryption.
type Result struct {
	Info
	// SMIMEType is the smime-type of the decrypted message part
	// ("enveloped-data" or "authEnveloped-data").
	SMIMEType string
}

// Status is the outcome of a signature check (shared with crypto/pgpmime).
type Status = verdict.Status

const (
	StatusNone      = verdict.None      // not signed
	StatusGood      = verdict.Pass      // valid, trusted, sender matches
	StatusBad       = verdict.Fail      // content changed, or the signature does not verify
	StatusUntrusted = verdict.Untrusted // signature verifies, but the certificate does not chain to the roots at that time
	StatusMismatch  = verdict.Mismatch  // valid and trusted, but From or Date do not match the signer / signing time
	// StatusUnknownSigner: the signer certificate is neither in the message
	// nor among VerifyOptions.Certificates; the signature was not checked.
	StatusUnknownSigner = verdict.UnknownKey
	// StatusUnsupported: a digest, signature or key algorithm that is not
	// implemented; the signature was not checked.
	StatusUnsupported = verdict.Unsupported
)

// SignatureResult describes a signature check.
type SignatureResult struct {
	Signed      bool
	Valid       bool // Status == StatusGood
	Status      Status
	CryptoValid bool   // the CMS signature matches the content
	Opaque      bool   // signed-data with embedded content
	Signer      string // e-mail address from the signer certificate
	Subject     string
	Fingerprint string // SHA-256 of the DER certificate, upper-case hex
	Certificate *x509.Certificate
	SigningTime time.Time
	Hash        string // e.g. "SHA256"
	Reason      string
	// SenderMismatch: the From address is not in the certificate.
	// DateMismatch: the Date header is far from the signing time.
	SenderMismatch bool
	DateMismatch   bool
	// Partial: the signature covers only the first part of a
	// multipart/mixed.
	Partial bool
}

// Fingerprint returns the SHA-256 of a certificate's DER, upper-case hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

// certEmails returns the e-mail addresses of a certificate (SAN and the
// legacy emailAddress attribute of the subject), lower-cased.
func certEmails(c *x509.Certificate) []string {
	var out []string
	for _, e := range c.EmailAddresses {
		out = append(out, strings.ToLower(e))
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidEmailAddressRDN) {
			if s, ok := n.Value.(string); ok {
				out = append(out, strings.ToLower(s))
			}
		}
	}
	return out
}
