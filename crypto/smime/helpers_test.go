package smime

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

func loadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b := cryptotest.ReadFile(t, path)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func loadKey(t testing.TB, path string) crypto.Signer {
	t.Helper()
	b := cryptotest.ReadFile(t, path)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		return k.(crypto.Signer)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// corpusNow is the date the corpus README was checked (all current
// certificates valid).
func corpusNow() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }

func corpusPath(t testing.TB, rel string) string {
	return filepath.Join(cryptotest.Corpus(t), "smime", rel)
}
