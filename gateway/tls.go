package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"time"

	"github.com/sealgate/sealgate/gateway/certs"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/keys"
)

// tlsKeyPurpose labels the sealed self-signed TLS key.
const tlsKeyPurpose = "tls-key"

// SelfSignedCertFile names the self-signed certificate (PEM) in the shared files (see
// OpenSharedFiles); its key, sealed, is beside it.
const SelfSignedCertFile = tlsCertFile

const (
	tlsCertFile = "tls/cert.pem"
	tlsKeyFile  = "tls/key.sealed"
)

// newCerts makes the certificate manager every TLS listener takes its certificate from: the
// [tls] files, ACME, or the self-signed certificate (certs.Manager).
// base carries the shared files, the master key, the logger, the clock and the poll interval.
func newCerts(ctx context.Context, cfg *config.Config, base certs.Options) (*certs.Manager, error) {
	opts := base
	files, mk := base.Files, base.MasterKey
	opts.CertFile, opts.KeyFile = cfg.TLS.Cert, cfg.TLS.Key
	opts.Fallback = func(ctx context.Context) (tls.Certificate, error) {
		return selfSigned(ctx, cfg.Hostname, files, mk)
	}
	if cfg.TLS.ACMEDirectory != "" {
		a := &certs.ACMEOptions{
			Directory: cfg.TLS.ACMEDirectory, Email: cfg.TLS.ACMEEmail, Names: cfg.ACMEHostnames(),
		}
		if cfg.Listen.HTTPS != "" {
			a.Challenges = append(a.Challenges, certs.ChallengeTLSALPN01)
		}
		if cfg.Listen.HTTP != "" {
			a.Challenges = append(a.Challenges, certs.ChallengeHTTP01)
		}
		if len(a.Challenges) == 0 {
			return nil, errors.New("tls.acme_directory needs listen.https (TLS-ALPN-01) or listen.http (HTTP-01)")
		}
		if cfg.TLS.ACMECAFile != "" {
			roots, err := certs.LoadRoots(cfg.TLS.ACMECAFile)
			if err != nil {
				return nil, fmt.Errorf("tls.acme_ca_file: %w", err)
			}
			a.Roots = roots
		}
		opts.ACME = a
	}
	return certs.New(ctx, opts)
}

// selfSigned returns the self-signed certificate kept in files
// (DIR/tls/ with the embedded backend, the database with postgres), made on first use: ECDSA
// P-256, valid two years, the key sealed with the master key. Nodes starting at once agree on
// one: the first key stored wins, every node makes its certificate from that key, and the
// first certificate stored wins, so every node behind one name presents the same one.
func selfSigned(ctx context.Context, hostname string, files keys.Files, mk *keys.MasterKey) (tls.Certificate, error) {
	keyDER, err := certs.SealedKey(ctx, files, mk, tlsKeyFile, tlsKeyPurpose)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed TLS key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM, err := files.ReadFile(ctx, tlsCertFile)
	if errors.Is(err, fs.ErrNotExist) {
		certPEM, err = newTLSCert(ctx, files, hostname, keyDER)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// newTLSCert makes a self-signed certificate for keyDER and stores it, unless another node
// stored one first; it returns the stored one.
func newTLSCert(ctx context.Context, files keys.Files, hostname string, keyDER []byte) ([]byte, error) {
	priv, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, err
	}
	key, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("self-signed TLS key is a %T", priv)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"Sealgate self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{hostname, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return keys.CreateOrReadFile(ctx, files, tlsCertFile, certPEM)
}
