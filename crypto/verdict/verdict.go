// Package verdict names the outcome of a signature check, shared by the
// OpenPGP (crypto/pgpmime) and S/MIME (crypto/smime) verifiers so that
// every consumer maps one set of outcomes.
//
// The central distinction: Fail means the signature was checked and is
// cryptographically wrong (the content changed, or the signature does not
// verify with the signer's key). UnknownKey and Unsupported mean it could
// not be checked at all (the signer's key or certificate is not at hand,
// or an algorithm or format is not implemented); such a signature is never
// reported as a forgery.
package verdict

// Status is the outcome of a signature check.
type Status int

const (
	// None: no signature.
	None Status = iota
	// Pass: the signature verifies with a valid, trusted key, and the
	// sender and date checks passed.
	Pass
	// Fail: the signature was checked and is wrong: the signed content was
	// changed, the signature value does not verify, it is damaged, or it
	// rests on a hash whose collisions can be made (SHA-1).
	Fail
	// Untrusted: the signature verifies, but the key is not trusted (an
	// S/MIME chain that does not reach a trust root, an expired or revoked
	// key).
	Untrusted
	// Mismatch: the signature verifies, but the message's From does not
	// name the signer or its Date is far from the signing time.
	Mismatch
	// UnknownKey: the signature cannot be checked because the signer's key
	// or certificate is neither in the message nor in the keyring.
	UnknownKey
	// Unsupported: the signature cannot be checked because it uses an
	// algorithm or format that is not implemented.
	Unsupported
)

func (s Status) String() string {
	switch s {
	case None:
		return "none"
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Untrusted:
		return "untrusted"
	case Mismatch:
		return "mismatch"
	case UnknownKey:
		return "unknown-key"
	case Unsupported:
		return "unsupported"
	}
	return "invalid"
}

// Checked reports whether the signature was checked cryptographically
// (it is neither absent nor impossible to check).
func (s Status) Checked() bool {
	return s != None && s != UnknownKey && s != Unsupported
}

// Better reports whether s is a more useful outcome than t when a message
// carries several signatures: the best one stands for the message (as
// RFC 8551 §3.4 lets a receiver accept any one valid signature).
func (s Status) Better(t Status) bool {
	return s.rank() > t.rank()
}

// rank orders outcomes from least to most useful: a checked signature
// beats one that could not be checked, a verifying one beats a wrong one.
func (s Status) rank() int {
	switch s {
	case Unsupported:
		return 1
	case UnknownKey:
		return 2
	case Fail:
		return 3
	case Mismatch:
		return 4
	case Untrusted:
		return 5
	case Pass:
		return 6
	}
	return 0
}
