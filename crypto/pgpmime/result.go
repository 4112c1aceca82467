package pgpmime

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/verdict"
)

// Status is the outcome of a signature check (shared with crypto/smime).
type Status = verdict.Status

const (
	// StatusNone: the message (or layer) carries no signature.
	StatusNone = verdict.None
	// StatusGood: the signature verifies with a valid key, and the sender
	// and date checks passed.
	StatusGood = verdict.Pass
	// StatusBad: the signature does not verify (tampered, damaged, missing).
	StatusBad = verdict.Fail
	// StatusUnknownSigner: no public key for the signer was given.
	StatusUnknownSigner = verdict.UnknownKey
	// StatusUntrusted: the signature verifies, but the key is expired or
	// revoked (or otherwise not valid at signing time).
	StatusUntrusted = verdict.Untrusted
	// StatusMismatch: the signature verifies but the message's From does not
	// name the signer, or its Date is far from the signature time.
	StatusMismatch = verdict.Mismatch
	// StatusUnsupported: the signature uses an algorithm that is not
	// implemented; it was not checked.
	StatusUnsupported = verdict.Unsupported
)

// SignatureResult describes a signature check. It is a result, not an
// error: Valid false with a Reason is the normal outcome for a bad signature.
type SignatureResult struct {
	Signed      bool   // a signature was present (even a broken one)
	Valid       bool   // Status == StatusGood
	Status      Status // the outcome
	CryptoValid bool   // the signature itself verifies (whatever the key state)
	KeyID       string // 16 hex digits of the issuing (sub)key
	Fingerprint string // primary key fingerprint of the signer, upper-case hex
	Signer      string // signer's e-mail address (primary user id), lower-case
	Created     time.Time
	Hash        string // e.g. "SHA256"
	Reason      string // why it is not valid, empty if it is
	// SenderMismatch: the first From address is not a user id of the
	// signing key. DateMismatch: the Date header differs from the signature
	// time by more than MaxDateSkew.
	SenderMismatch bool
	DateMismatch   bool
	// Partial: the signature covers only part of the message (a signed
	// part followed by unsigned parts, or text around a cleartext block).
	Partial bool
}

// MaxDateSkew is the default limit between a message's Date header and its
// signature creation time before the result is StatusMismatch. Clients set
// both when sending, so hours of difference mean an edited Date header;
// two hours leaves room for slow clocks and delayed sending.
const MaxDateSkew = 2 * time.Hour

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

func packetConfig(nowf func() time.Time) *packet.Config {
	return &packet.Config{
		DefaultHash:            cryptoSHA256,
		DefaultCipher:          packet.CipherAES256,
		DefaultCompressionAlgo: packet.CompressionNone,
		Time:                   func() time.Time { return now(nowf) },
	}
}

// resultFromCheck builds a SignatureResult from go-crypto's outcome.
func resultFromCheck(sig *packet.Signature, issuer uint64, signer *openpgp.Entity, err error, keys KeyRing) SignatureResult {
	r := SignatureResult{Signed: true}
	if issuer != 0 {
		r.KeyID = fmt.Sprintf("%016X", issuer)
	}
	if sig != nil {
		r.Created = sig.CreationTime
		r.Hash = strings.TrimPrefix(sig.Hash.String(), "SHA-")
		r.Hash = "SHA" + strings.TrimPrefix(r.Hash, "SHA")
		if sig.IssuerKeyId != nil && r.KeyID == "" {
			r.KeyID = fmt.Sprintf("%016X", *sig.IssuerKeyId)
		}
	}
	if signer != nil {
		k := keys.byEntity(signer)
		if k == nil {
			k = &Key{entity: signer}
		}
		r.Fingerprint = k.Fingerprint()
		if _, id := signer.PrimaryIdentity(time.Time{}, nil); id != nil && id.UserId != nil {
			r.Signer = strings.ToLower(id.UserId.Email)
		} else if em := k.Emails(); len(em) > 0 {
			r.Signer = em[0]
		}
	}
	switch {
	case err == nil:
		r.CryptoValid = true
		r.Status = StatusGood
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		r.Status = StatusUnknownSigner
		r.Reason = "no public key for signer " + r.KeyID
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		r.CryptoValid = true
		r.Status = StatusUntrusted
		r.Reason = "signature expired"
	case errors.Is(err, pgperrors.ErrKeyExpired):
		r.CryptoValid = true
		r.Status = StatusUntrusted
		r.Reason = "signing key expired"
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		r.CryptoValid = true
		r.Status = StatusUntrusted
		r.Reason = "signing key revoked"
	case errors.As(err, new(pgperrors.UnsupportedError)):
		r.Status = StatusUnsupported
		r.Reason = "cannot check: " + err.Error()
	default:
		r.Status = StatusBad
		r.Reason = "bad signature: " + err.Error()
	}
	r.Valid = r.Status == StatusGood
	return r
}

// checkSender applies the From and Date checks to a good result.
func (r *SignatureResult) checkSender(from []string, date string, signerEmails []string, skew time.Duration) {
	if !r.CryptoValid {
		return
	}
	if len(from) > 0 {
		addr := ""
		if a, err := mail.ParseAddress(from[0]); err == nil {
			addr = strings.ToLower(a.Address)
		} else if as, err := mail.ParseAddressList(from[0]); err == nil && len(as) > 0 {
			addr = strings.ToLower(as[0].Address)
		}
		match := false
		for _, e := range signerEmails {
			if e == addr {
				match = true
			}
		}
		if addr != "" && len(signerEmails) > 0 && !match {
			r.SenderMismatch = true
		}
	}
	if date != "" && !r.Created.IsZero() {
		if d, err := mail.ParseDate(date); err == nil {
			diff := d.Sub(r.Created)
			if diff < 0 {
				diff = -diff
			}
			if skew == 0 {
				skew = MaxDateSkew
			}
			if diff > skew {
				r.DateMismatch = true
			}
		}
	}
	if r.Status == StatusGood && (r.SenderMismatch || r.DateMismatch) {
		r.Status = StatusMismatch
		r.Valid = false
		if r.SenderMismatch {
			r.Reason = "From address is not a user id of the signing key"
		} else {
			r.Reason = "Date header differs from the signature time"
		}
	}
}
