// Package certtest makes self-signed certificates for tests: TLS server certificates for a
// listener of the gateway, a peer standing in for another server, or a certificate that a
// renewal hook replaces; and S/MIME certificates for an address. It is imported by tests only.
package certtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// Options says what a certificate is for.
type Options struct {
	// Names are its DNS names; the first is its common name (else the first IP address).
	Names []string
	IPs   []net.IP
	// CA makes it its own issuer that clients can trust as a root (as a peer's certificate in
	// a test's pool of roots must be).
	CA bool
	// Emails makes it an S/MIME certificate (email protection, signing and key agreement) for
	// these addresses instead of a TLS server certificate; the first is its common name.
	Emails []string
	// NotBefore and NotAfter, when set, replace the validity from an hour ago for a day.
	NotBefore, NotAfter time.Time
}

// Cert is a self-signed certificate with its P-256 key, valid from an hour ago for a day
// unless Options say otherwise.
type Cert struct {
	Leaf *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// New makes a certificate as o says.
func New(t testing.TB, o Options) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	cn := ""
	if len(o.Names) > 0 {
		cn = o.Names[0]
	} else if len(o.IPs) > 0 {
		cn = o.IPs[0].String()
	} else if len(o.Emails) > 0 {
		cn = o.Emails[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     o.Names,
		IPAddresses:  o.IPs,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(o.Emails) > 0 {
		tmpl.EmailAddresses = o.Emails
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	if !o.NotBefore.IsZero() {
		tmpl.NotBefore = o.NotBefore
	}
	if !o.NotAfter.IsZero() {
		tmpl.NotAfter = o.NotAfter
	}
	if o.CA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Cert{Leaf: leaf, Key: key}
}

// PEM returns the certificate and its PKCS#8 key, PEM-encoded.
func (c Cert) PEM(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// TLS is the certificate as a tls.Certificate, for a server of the test's own.
func (c Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Leaf.Raw}, PrivateKey: c.Key, Leaf: c.Leaf}
}

// WriteFiles writes a new certificate and its key as PEM files where a server reads them. The
// key is written first, as renewal hooks often do: in between, the pair does not match.
func WriteFiles(t testing.TB, certFile, keyFile string, o Options) {
	t.Helper()
	certPEM, keyPEM := New(t, o).PEM(t)
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}
