package keys

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/pgpmime"
)

// Seal purposes. The fingerprint is part of the purpose, so a sealed key cannot be moved to
// another record.
func pgpSealPurpose(fpr string) string  { return "pgp-secret " + fpr }
func x509SealPurpose(fpr string) string { return "x509-key " + fpr }

func hexString(b []byte) string { return hex.EncodeToString(b) }

func pgpFingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// readOpenPGP parses every key in data: one or more armored blocks, or binary packets. Any
// damage (a truncated block, a bad checksum, trailing garbage) refuses the whole input.
func readOpenPGP(data []byte) (openpgp.EntityList, error) {
	if !bytes.Contains(data, []byte("-----BEGIN PGP ")) {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil || len(el) == 0 {
			return nil, fmt.Errorf("%w: not a usable OpenPGP key: %v", ErrRefused, errOr(err, "no key in the packets"))
		}
		return el, nil
	}
	var all openpgp.EntityList
	rest := data
	for {
		i := bytes.Index(rest, []byte("-----BEGIN PGP "))
		if i < 0 {
			break
		}
		rest = rest[i:]
		end := bytes.Index(rest, []byte("-----END PGP "))
		if end < 0 {
			return nil, fmt.Errorf("%w: truncated OpenPGP armor (no END line)", ErrRefused)
		}
		nl := bytes.IndexByte(rest[end:], '\n')
		if nl < 0 {
			nl = len(rest) - end
		} else {
			nl++
		}
		block := rest[:end+nl]
		rest = rest[end+nl:]
		blk, err := armor.Decode(bytes.NewReader(block))
		if err != nil {
			return nil, fmt.Errorf("%w: damaged OpenPGP armor: %v", ErrRefused, err)
		}
		if blk.Type != openpgp.PublicKeyType && blk.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("%w: the armored block is a %q, not a key", ErrRefused, blk.Type)
		}
		body, err := io.ReadAll(blk.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: damaged OpenPGP armor: %v", ErrRefused, err)
		}
		el, err := openpgp.ReadKeyRing(bytes.NewReader(body))
		if err != nil || len(el) == 0 {
			return nil, fmt.Errorf("%w: not a usable OpenPGP key: %v", ErrRefused, errOr(err, "no key in the packets"))
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: no OpenPGP key found", ErrRefused)
	}
	return all, nil
}

// parsePublic parses a stored public (or, once opened, secret) key record.
func parseEntity(b []byte) (*openpgp.Entity, error) {
	el, err := openpgp.ReadKeyRing(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if len(el) != 1 {
		return nil, fmt.Errorf("keys: stored OpenPGP record holds %d keys", len(el))
	}
	return el[0], nil
}

func serializePublic(e *openpgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func serializeSecret(e *openpgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&buf, nil); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func armorBytes(blockType string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, blockType, nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func pgpAlgorithm(pk *packet.PublicKey) string {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoRSAEncryptOnly:
		if bits, err := pk.BitLength(); err == nil {
			return fmt.Sprintf("rsa%d", bits)
		}
		return "rsa"
	case packet.PubKeyAlgoEdDSA:
		if c, err := pk.Curve(); err == nil && c == packet.Curve448 {
			return "ed448"
		}
		return "ed25519"
	case packet.PubKeyAlgoEd25519:
		return "ed25519"
	case packet.PubKeyAlgoEd448:
		return "ed448"
	case packet.PubKeyAlgoECDSA:
		if c, err := pk.Curve(); err == nil {
			return "ecdsa-" + strings.ToLower(string(c))
		}
		return "ecdsa"
	case packet.PubKeyAlgoDSA:
		if bits, err := pk.BitLength(); err == nil {
			return fmt.Sprintf("dsa%d", bits)
		}
		return "dsa"
	case packet.PubKeyAlgoMldsa65Ed25519:
		return "ml-dsa-65+ed25519"
	case packet.PubKeyAlgoMldsa87Ed448:
		return "ml-dsa-87+ed448"
	case packet.PubKeyAlgoMlkem768X25519:
		return "ml-kem-768+x25519"
	case packet.PubKeyAlgoMlkem1024X448:
		return "ml-kem-1024+x448"
	}
	return fmt.Sprintf("pgp-algo-%d", pk.PubKeyAlgo)
}

// pgpRecord describes an entity as a record (without trust, source or sealed secret).
// It refuses keys without a valid self-signature.
func pgpRecord(e *openpgp.Entity, now time.Time, rule address.Subaddressing) (Record, error) {
	fpr := pgpFingerprint(e)
	sig, err := e.PrimarySelfSignature(time.Time{}, nil)
	if err != nil || sig == nil {
		return Record{}, fmt.Errorf("%w: OpenPGP key %s has no valid self-signature", ErrRefused, fpr)
	}
	r := Record{Entry: Entry{
		Fingerprint: fpr,
		Scheme:      SchemePGP,
		Algorithm:   pgpAlgorithm(e.PrimaryKey),
		Created:     e.PrimaryKey.CreationTime.UTC(),
	}}
	if sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		r.Expires = e.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second).UTC()
	}
	if e.Revoked(now) {
		r.Revoked = now.UTC()
		for _, rev := range e.Revocations {
			if rev.Valid != nil && *rev.Valid {
				r.Revoked = rev.Packet.CreationTime.UTC()
				break
			}
		}
	}
	seen := map[string]bool{}
	for _, a := range pgpmime.NewKey(e).Emails() {
		if n, err := normalizeAddress(a, rule); err == nil && !seen[n] {
			seen[n] = true
			r.Addresses = append(r.Addresses, n)
		}
	}
	r.KeyIDs = append(r.KeyIDs, fmt.Sprintf("%016X", e.PrimaryKey.KeyId))
	pq := ""
	for _, sk := range e.Subkeys {
		r.KeyIDs = append(r.KeyIDs, fmt.Sprintf("%016X", sk.PublicKey.KeyId))
		if sk.PublicKey.IsPQ() && !e.PrimaryKey.IsPQ() {
			pq = "+" + pgpAlgorithm(sk.PublicKey) // a classical key with post-quantum encryption
		}
	}
	r.Algorithm += pq
	if r.Public, err = serializePublic(e); err != nil {
		return Record{}, fmt.Errorf("%w: OpenPGP key %s: %v", ErrRefused, fpr, err)
	}
	return r, nil
}

// hasSecret reports whether the entity carries usable secret material (not only GnuPG stubs).
func hasSecret(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Dummy() {
			return true
		}
	}
	return false
}

func locked(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() && e.PrivateKey.Encrypted {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Dummy() && sk.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// unlock opens passphrase-protected secret material so that it can be sealed.
func unlock(e *openpgp.Entity, passphrase []byte) error {
	if !locked(e) {
		return nil
	}
	if len(passphrase) == 0 {
		return fmt.Errorf("%w: OpenPGP secret key %s is protected by a passphrase; give it with --passphrase-file", ErrRefused, pgpFingerprint(e))
	}
	if err := e.DecryptPrivateKeys(passphrase); err != nil {
		return fmt.Errorf("%w: OpenPGP secret key %s does not open with the passphrase given", ErrRefused, pgpFingerprint(e))
	}
	return nil
}

// sealPGPSecret seals the unlocked secret key; the result opens with openPGPSecret.
func (k *Keyring) sealPGPSecret(e *openpgp.Entity) ([]byte, error) {
	raw, err := serializeSecret(e)
	if err != nil {
		return nil, err
	}
	return k.mk.Seal(pgpSealPurpose(pgpFingerprint(e)), raw)
}

func (k *Keyring) openPGP(r Record, secret bool) (*pgpmime.Key, error) {
	e, err := k.parsedEntity(r, secret, func() (*openpgp.Entity, error) { return k.parsePGP(r, secret) })
	if err != nil {
		return nil, err
	}
	return pgpmime.NewKey(e), nil
}

func (k *Keyring) parsePGP(r Record, secret bool) (*openpgp.Entity, error) {
	data := r.Public
	if secret {
		if r.Sealed == nil {
			return nil, ErrNotFound
		}
		raw, err := k.mk.Open(pgpSealPurpose(r.Fingerprint), r.Sealed)
		if err != nil {
			return nil, fmt.Errorf("keys: secret key %s: %w", r.Fingerprint, err)
		}
		data = raw
	}
	e, err := parseEntity(data)
	if err != nil {
		return nil, fmt.Errorf("keys: stored key %s does not parse: %w", r.Fingerprint, err)
	}
	if secret {
		// The public record may carry newer signatures (a revocation); the secret part is what
		// was sealed. Take the revocations of the public record.
		if pub, err := parseEntity(r.Public); err == nil {
			e.Revocations = pub.Revocations
		}
	}
	return e, nil
}

func errOr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}
