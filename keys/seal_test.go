package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMasterKeyCreatedPrivateAndStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	m1, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key mode %v, want 0600", fi.Mode().Perm())
	}
	sealed, err := m1.Seal("tls", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed blob contains the plaintext")
	}
	m2, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := m2.Open("tls", sealed)
	if err != nil || string(pt) != "secret" {
		t.Fatalf("reopen with the same key file: %q, %v", pt, err)
	}
	if _, err := m2.Open("dkim", sealed); !errors.Is(err, ErrSealBroken) {
		t.Fatalf("open with another purpose: %v, want ErrSealBroken", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := m2.Open("tls", sealed); !errors.Is(err, ErrSealBroken) {
		t.Fatalf("open damaged blob: %v, want ErrSealBroken", err)
	}
}

func TestMasterKeyRefusesLooseMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, bytes.Repeat([]byte("ab"), 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateMasterKey(path); err == nil {
		t.Fatal("a world-readable master key was accepted")
	}
}

func TestMasterKeyOtherFileCannotOpen(t *testing.T) {
	a, _ := LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "a.key"))
	b, _ := LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "b.key"))
	sealed, _ := a.Seal("x", []byte("k"))
	if _, err := b.Open("x", sealed); !errors.Is(err, ErrSealBroken) {
		t.Fatalf("got %v, want ErrSealBroken", err)
	}
}

// TestParseSigner: a sealed PKCS#8 key opens as a signer whose signature its public key
// verifies; an X25519 key, which cannot sign, and bytes that are no key are errors.
func TestParseSigner(t *testing.T) {
	mk, err := LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := mk.Seal("test key", der)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := mk.Open("test key", sealed)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigner(opened)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(rand.Reader, []byte("message"), crypto.Hash(0))
	if err != nil || !ed25519.Verify(pub, []byte("message"), sig) {
		t.Fatalf("signature from the parsed key does not verify (%v)", err)
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	xder, err := x509.MarshalPKCS8PrivateKey(x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSigner(xder); err == nil {
		t.Fatal("an X25519 key parsed as a signer")
	}
	if _, err := ParseSigner([]byte("not a key")); err == nil {
		t.Fatal("garbage parsed as a signer")
	}
}
