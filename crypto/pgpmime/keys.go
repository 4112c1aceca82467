package pgpmime

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Key is an OpenPGP certificate (transferable public key), possibly with
// its secret key material.
type Key struct {
	entity *openpgp.Entity
}

// KeyRing is a set of keys: secret keys to decrypt with, public keys to
// verify against.
type KeyRing []*Key

// NewKey wraps an entity parsed elsewhere (the keys package).
func NewKey(e *openpgp.Entity) *Key { return &Key{entity: e} }

// Entity returns the underlying go-crypto entity.
func (k *Key) Entity() *openpgp.Entity { return k.entity }

// Fingerprint returns the primary key fingerprint as upper-case hex (40
// digits for v4, 64 for v6).
func (k *Key) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(k.entity.PrimaryKey.Fingerprint))
}

// KeyID returns the 16-hex-digit key id of the primary key.
func (k *Key) KeyID() string { return fmt.Sprintf("%016X", k.entity.PrimaryKey.KeyId) }

// HasSecret reports whether secret key material is present.
func (k *Key) HasSecret() bool { return k.entity.PrivateKey != nil }

// Emails returns the e-mail addresses of the key's user ids, lower-cased.
func (k *Key) Emails() []string {
	var out []string
	for name, id := range k.entity.Identities {
		addr := ""
		if id.UserId != nil {
			addr = id.UserId.Email
		}
		if addr == "" {
			if a, err := mail.ParseAddress(name); err == nil {
				addr = a.Address
			}
		}
		if addr != "" {
			out = append(out, strings.ToLower(addr))
		}
	}
	return out
}

// Unlock decrypts passphrase-protected secret key material in place.
func (k *Key) Unlock(passphrase []byte) error {
	if err := k.entity.DecryptPrivateKeys(passphrase); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyLocked, err)
	}
	return nil
}

// ReadKeys parses one or more keys, armored or binary, public or secret.
func ReadKeys(r io.Reader) (KeyRing, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var el openpgp.EntityList
	if blk, aerr := armor.Decode(bytes.NewReader(bytes.TrimLeft(data, " \t\r\n"))); aerr == nil {
		el, err = openpgp.ReadKeyRing(blk.Body)
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil && len(el) == 0 {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	if len(el) == 0 {
		return nil, ErrBadKey
	}
	out := make(KeyRing, len(el))
	for i, e := range el {
		out[i] = &Key{entity: e}
	}
	return out, nil
}

func (kr KeyRing) entities() openpgp.EntityList {
	el := make(openpgp.EntityList, 0, len(kr))
	for _, k := range kr {
		if k != nil && k.entity != nil {
			el = append(el, k.entity)
		}
	}
	return el
}

func (kr KeyRing) byEntity(e *openpgp.Entity) *Key {
	for _, k := range kr {
		if k.entity == e {
			return k
		}
	}
	return nil
}

// Sentinel errors.
var (
	ErrNotEncrypted = errors.New("pgpmime: message is not OpenPGP encrypted")
	ErrNotSigned    = errors.New("pgpmime: message is not OpenPGP signed")
	ErrNoKey        = errors.New("pgpmime: no secret key to decrypt the message")
	ErrNoRecipients = errors.New("pgpmime: no recipients")
	ErrBadKey       = errors.New("pgpmime: unusable key")
	ErrKeyLocked    = errors.New("pgpmime: secret key is locked")
	ErrMalformed    = errors.New("pgpmime: malformed message")
	ErrIntegrity    = errors.New("pgpmime: ciphertext integrity check failed")
	ErrTooLarge     = errors.New("pgpmime: message exceeds a size limit")
	// ErrPlaintextTooLarge (an ErrTooLarge) is a message whose plaintext exceeds
	// DecryptOptions.MaxPlaintext: a compression bomb, not a message to keep undecrypted.
	ErrPlaintextTooLarge = fmt.Errorf("%w: the plaintext exceeds DecryptOptions.MaxPlaintext", ErrTooLarge)
)

// PublicKeyBytes returns the binary transferable public key (no secret material), as
// Autocrypt's keydata and WKD serve it.
func (k *Key) PublicKeyBytes() ([]byte, error) {
	var b bytes.Buffer
	if err := k.entity.Serialize(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
