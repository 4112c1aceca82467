// Package keys owns key material at rest: the master key that seals every private key the
// gateway holds, and the keyring of OpenPGP keys and X.509 certificates per address.
//
// Keyring: DIR/keys.db, a SQLite database in WAL mode (the same settings as the mail store,
// so the CLI and a running server share it and see each other's changes at once), behind the
// Backend interface. Each entry has a fingerprint (OpenPGP: upper-case hex of the primary key;
// X.509: SHA-256 of the DER certificate), the addresses it covers (lower-cased, "+tag"
// removed), algorithm, creation and expiry, revocation, trust (verified, harvested,
// untrusted) and source. Secret keys are stored only sealed, with the purpose
// "pgp-secret FPR" or "x509-key FPR". The Lookup interface is what mail processing uses: it
// never chooses an expired, revoked or untrusted key to encrypt or sign, and prefers
// verified keys over harvested ones. Admin changes the keyring; every change, and every
// export of a secret key, is appended to the audit log in the same transaction. Imports are
// all or nothing. Harvested keys never replace a verified one: a differing key is recorded
// as a pending change. WKD serves verified public keys of local users over HTTP.
//
// Sealing: a private key is never written to disk in plaintext. Seal encrypts it with
// AES-256-GCM under the master key; the sealed form is
//
//	"SGSEAL1" || 12-byte nonce || ciphertext+tag
//
// with a caller-supplied purpose string as additional data, so a blob sealed for one purpose
// (say "tls") cannot be opened as another. The master key is 32 random bytes in a file created
// with mode 0600 on first use (DIR/master.key unless the operator names another file).
package keys

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealgate/sealgate/crypto/fsutil"
)

// ErrSealBroken reports a sealed blob that does not open: wrong master key, wrong purpose, or
// damaged data.
var ErrSealBroken = errors.New("keys: sealed data does not open with this master key")

const sealMagic = "SGSEAL1"

// MasterKey seals and opens private key material. The zero value is unusable; get one from
// LoadOrCreateMasterKey.
type MasterKey struct {
	aead cipher.AEAD
}

// LoadOrCreateMasterKey reads the master key from path, creating it (mode 0600, 32 random bytes,
// hex encoded) when the file does not exist. A file that exists but is readable by group or
// others is refused, because the master key opens every private key.
func LoadOrCreateMasterKey(path string) (*MasterKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = createMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: master key %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("keys: master key %s is not 64 hex digits", path)
	}
	return newMasterKey(key)
}

func createMasterKey(path string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	text := []byte(hex.EncodeToString(key) + "\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once must not both create a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(text); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return text, fsutil.SyncPath(filepath.Dir(path))
}

func newMasterKey(key []byte) (*MasterKey, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: aead}, nil
}

// Seal encrypts plaintext for the given purpose.
func (m *MasterKey) Seal(purpose string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(sealMagic)+len(nonce)+len(plaintext)+m.aead.Overhead())
	out = append(out, sealMagic...)
	out = append(out, nonce...)
	return m.aead.Seal(out, nonce, plaintext, []byte(purpose)), nil
}

// Open decrypts a blob made by Seal with the same purpose.
func (m *MasterKey) Open(purpose string, sealed []byte) ([]byte, error) {
	ns := m.aead.NonceSize()
	if len(sealed) < len(sealMagic)+ns+m.aead.Overhead() || !bytes.HasPrefix(sealed, []byte(sealMagic)) {
		return nil, ErrSealBroken
	}
	body := sealed[len(sealMagic):]
	pt, err := m.aead.Open(nil, body[:ns], body[ns:], []byte(purpose))
	if err != nil {
		return nil, ErrSealBroken
	}
	return pt, nil
}

// ParseSigner reads a private key in PKCS#8 DER, as a sealed key holds it once opened, as a
// signer: the gateway's DKIM and ACME account keys. A key that cannot sign (X25519) is an
// error.
func ParseSigner(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: a %T private key cannot sign", k)
	}
	return s, nil
}

// WriteSealedFile seals plaintext and writes it to path durably (temp file, fsync, rename,
// directory fsync) with mode 0600.
func (m *MasterKey) WriteSealedFile(path, purpose string, plaintext []byte) error {
	sealed, err := m.Seal(purpose, plaintext)
	if err != nil {
		return err
	}
	return writeFileDurable(path, sealed, 0o600)
}

// ReadSealedFile reads and opens a file written by WriteSealedFile.
func (m *MasterKey) ReadSealedFile(path, purpose string) ([]byte, error) {
	sealed, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return m.Open(purpose, sealed)
}

func writeFileDurable(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after a successful rename
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return fsutil.SyncPath(dir)
}

// writeTemp writes data to a new temporary file in dir with mode perm and syncs it; the
// caller moves it into place or removes it.
func writeTemp(dir string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
