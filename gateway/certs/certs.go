// Package certs supplies the certificate that every TLS listener presents (SMTP STARTTLS and
// submissions, IMAP(S), POP3(S), HTTPS) and changes it without a restart: servers take
// Manager.TLSConfig, whose GetCertificate answers with the current certificate, so a new one
// is seen by the next handshake while open sessions keep the one they started with.
//
// A certificate comes from one of three sources, in this order:
//   - files ([tls] cert and key), read again when Reload is called (SIGHUP) and when either
//     file's modification time or size changes (polled);
//   - ACME (RFC 8555, [tls] acme_directory): one certificate for every configured name,
//     obtained with TLS-ALPN-01 (answered by every listener using TLSConfig, in practice the
//     https one on port 443) or HTTP-01 (HTTPHandler on port 80), renewed when two thirds of its
//     lifetime have passed, and kept in the shared files sealed with the master key together
//     with the ACME account key. Until the first certificate is issued the fallback is served;
//   - the fallback (the gateway's self-signed certificate).
//
// A failed reload or renewal keeps the certificate in use and is logged; ACME tries again
// after a pause that doubles from one minute to twelve hours, the other challenge type first.
// Reload with ACME only asks Run to check at once, since an order can take minutes.
package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealgate/sealgate/keys"
)

// Options configure New. Exactly one of the file pair, ACME or Fallback is the source; the
// zero value of each optional field is documented on it.
type Options struct {
	// CertFile and KeyFile are PEM files; both set makes them the source.
	CertFile, KeyFile string
	// ACME, when not nil and CertFile is empty, makes ACME the source.
	ACME *ACMEOptions
	// Fallback makes the certificate served when no file is configured and ACME has not issued
	// one yet. Required unless CertFile is set.
	Fallback func(ctx context.Context) (tls.Certificate, error)
	// PollInterval is how often the certificate files are checked for changes and ACME
	// certificates for renewal; 0 is one minute.
	PollInterval time.Duration
	// Files keep the ACME account key and certificate (shared by nodes of one database).
	Files keys.Files
	// MasterKey seals the ACME account key and the certificate's key.
	MasterKey *keys.MasterKey
	// Logger; nil is slog.Default().
	Logger *slog.Logger
	// Now is the clock for renewal; nil is time.Now.
	Now func() time.Time
}

// Manager holds the current certificate. Its methods are safe for concurrent use.
type Manager struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[tls.Certificate]
	acme *acmeIssuer // nil unless ACME is the source

	mu       sync.Mutex // serializes reloads and renewals
	fileStat [2]fileStamp
	kick     chan struct{} // asks Run for an ACME check now
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// New loads the first certificate: the files, or the stored ACME certificate, or the
// fallback. It fails when the files cannot be used; ACME problems only delay issuance (Run
// keeps trying).
func New(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Minute
	}
	m := &Manager{opts: opts, log: opts.Logger, kick: make(chan struct{}, 1)}
	if opts.CertFile != "" {
		if _, err := m.reloadFiles(true); err != nil {
			return nil, err
		}
		return m, nil
	}
	if opts.Fallback == nil {
		return nil, errors.New("certs: no certificate source")
	}
	if opts.ACME != nil {
		a, err := newACMEIssuer(m, *opts.ACME, opts.Files, opts.MasterKey)
		if err != nil {
			return nil, err
		}
		m.acme = a
		if c, err := a.loadStored(ctx); err == nil && c != nil {
			m.cur.Store(c)
			return m, nil
		} else if err != nil {
			m.log.Warn("tls: stored ACME certificate not used", "err", err)
		}
	}
	c, err := opts.Fallback(ctx)
	if err != nil {
		return nil, err
	}
	m.cur.Store(&c)
	return m, nil
}

// Current returns the certificate served now.
func (m *Manager) Current() *tls.Certificate { return m.cur.Load() }

// GetCertificate implements tls.Config.GetCertificate.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.cur.Load(), nil
}

// TLSConfig returns a server configuration presenting the current certificate: TLS 1.2 and
// 1.3 only, forward-secret AEAD suites for 1.2. A TLS-ALPN-01 validation (RFC 8737) gets the
// challenge certificate; other clients never see "acme-tls/1" offered.
func (m *Manager) TLSConfig() *tls.Config {
	base := &tls.Config{
		GetCertificate: m.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
	if m.acme != nil {
		base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if !slices.Contains(hello.SupportedProtos, acmeALPNProto) {
				return nil, nil
			}
			cert := m.acme.alpnCert(hello.ServerName)
			if cert == nil {
				return nil, fmt.Errorf("certs: no TLS-ALPN-01 challenge for %q", hello.ServerName)
			}
			return &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{acmeALPNProto}, MinVersion: tls.VersionTLS12}, nil
		}
	}
	return base
}

// Reload reads the certificate files again (SIGHUP) and reports whether the served
// certificate changed. With ACME it asks Run to check for renewal now and returns at once: an
// order may take minutes.
func (m *Manager) Reload(ctx context.Context) (bool, error) {
	if m.opts.CertFile != "" {
		return m.reloadFiles(true)
	}
	if m.acme != nil {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return false, nil
}

// Run polls the certificate files for changes and renews the ACME certificate until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	if m.opts.CertFile == "" && m.acme == nil {
		return
	}
	if m.acme != nil {
		m.acme.renewIfDue(ctx) // at once: the first certificate, or one due while stopped
	}
	t := time.NewTicker(m.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
		if m.opts.CertFile != "" {
			m.reloadFiles(false)
		} else {
			m.acme.renewIfDue(ctx)
		}
	}
}

// reloadFiles loads the file pair when forced or when either file changed since the last load.
// A pair that does not load (a renewal hook half way through writing it) keeps the current
// certificate; it is tried again at the next poll.
func (m *Manager) reloadFiles(force bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var st [2]fileStamp
	for i, p := range []string{m.opts.CertFile, m.opts.KeyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			if force {
				return false, fmt.Errorf("tls: %w", err)
			}
			return false, nil
		}
		st[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	if !force && st == m.fileStat {
		return false, nil
	}
	c, err := tls.LoadX509KeyPair(m.opts.CertFile, m.opts.KeyFile)
	if err != nil {
		if !force {
			m.log.Warn("tls: certificate files not reloaded; the current certificate stays", "cert", m.opts.CertFile, "err", err)
		}
		return false, fmt.Errorf("tls: %w", err)
	}
	m.fileStat = st
	first := m.cur.Load() == nil
	changed := m.swap(&c)
	if changed && !first {
		m.log.Info("tls: certificate reloaded", "cert", m.opts.CertFile, "subject", describe(&c))
	}
	return changed, nil
}

// swap makes c current and reports whether it differs from the previous one.
func (m *Manager) swap(c *tls.Certificate) bool {
	old := m.cur.Swap(c)
	return old == nil || len(old.Certificate) == 0 || !bytes.Equal(old.Certificate[0], c.Certificate[0])
}

// describe names a certificate for the log: its names and expiry, nothing secret.
func describe(c *tls.Certificate) string {
	leaf, err := leafOf(c)
	if err != nil {
		return "unparsable"
	}
	return fmt.Sprintf("%v until %s", leaf.DNSNames, leaf.NotAfter.UTC().Format(time.RFC3339))
}

func leafOf(c *tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("certs: empty certificate")
	}
	return x509.ParseCertificate(c.Certificate[0])
}
