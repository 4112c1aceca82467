package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/certtest"
)

func TestRenewDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(90 * 24 * time.Hour), DNSNames: []string{"mx.example.test", "mta-sts.example.test"}}
	for _, tc := range []struct {
		name  string
		names []string
		now   time.Time
		want  bool
	}{
		{"fresh", []string{"mx.example.test"}, start.Add(time.Hour), false},
		{"59 days in", []string{"mx.example.test"}, start.Add(59 * 24 * time.Hour), false},
		{"60 days in: two thirds", []string{"mx.example.test"}, start.Add(60 * 24 * time.Hour), true},
		{"expired", []string{"mx.example.test"}, start.Add(100 * 24 * time.Hour), true},
		{"a name added", []string{"mx.example.test", "autoconfig.example.test"}, start.Add(time.Hour), true},
	} {
		if got := renewDue(leaf, tc.names, tc.now); got != tc.want {
			t.Errorf("%s: renewDue = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !renewDue(nil, []string{"x"}, start) {
		t.Error("no certificate is not due")
	}
}

// writePair writes a certificate for cn and its key in dir, as a renewal hook would.
func writePair(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certtest.WriteFiles(t, certFile, keyFile, certtest.Options{Names: []string{cn}})
	return certFile, keyFile
}

func names(t *testing.T, m *Manager) string {
	t.Helper()
	c, err := m.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := leafOf(c)
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// Changed files are picked up by the poll; a pair that does not match keeps the old certificate.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	cf, kf := writePair(t, dir, "one.example.test")
	m, err := New(context.Background(), Options{CertFile: cf, KeyFile: kf})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, m); got != "one.example.test" {
		t.Fatal(got)
	}
	if changed, err := m.reloadFiles(false); changed || err != nil {
		t.Fatalf("unchanged files reloaded: %v %v", changed, err)
	}
	// A key that does not match the certificate: the old pair stays.
	key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kder, _ := x509.MarshalPKCS8PrivateKey(key2)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	if _, err := m.reloadFiles(false); err == nil {
		t.Fatal("a mismatched pair loaded")
	}
	if got := names(t, m); got != "one.example.test" {
		t.Fatalf("after a bad pair: %s", got)
	}
	writePair(t, dir, "two.example.test")
	future := time.Now().Add(time.Minute) // a write within the file system's timestamp grain
	os.Chtimes(cf, future, future)
	if changed, err := m.reloadFiles(false); !changed || err != nil {
		t.Fatalf("new pair not loaded: %v %v", changed, err)
	}
	if got := names(t, m); got != "two.example.test" {
		t.Fatal(got)
	}
}

// A dropped name is left out until its pause has passed; the pause doubles up to a day; the
// first name is never dropped.
func TestDroppedNames(t *testing.T) {
	a := &acmeIssuer{opts: ACMEOptions{Names: []string{"mx.example.org", "mta-sts.example.org", "openpgpkey.example.org"}}, dropped: map[string]droppedName{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if p := a.drop([]string{"openpgpkey.example.org"}, now); p != time.Hour {
		t.Fatalf("first pause %v", p)
	}
	if got := a.wanted(now.Add(59 * time.Minute)); len(got) != 2 || got[0] != "mx.example.org" {
		t.Fatalf("wanted %v", got)
	}
	if got := a.wanted(now.Add(time.Hour)); len(got) != 3 {
		t.Fatalf("after the pause: %v", got)
	}
	for i := 0; i < 10; i++ {
		a.drop([]string{"openpgpkey.example.org"}, now)
	}
	if d := a.dropped["openpgpkey.example.org"]; d.pause != dropPauseMax {
		t.Fatalf("pause grows to %v", d.pause)
	}
}
