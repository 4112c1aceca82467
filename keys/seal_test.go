package keys

import (
	"bytes"
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
