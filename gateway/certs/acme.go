package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/sealgate/sealgate/keys"
)

// acmeALPNProto is the ALPN protocol of TLS-ALPN-01 validation (RFC 8737 §6.2).
const acmeALPNProto = "acme-tls/1"

// Purposes of the sealed ACME files.
const (
	acmeAccountPurpose = "acme-account-key"
	acmeCertPurpose    = "acme-certificate"
)

// Challenge types (RFC 8555 §8.3, RFC 8737).
const (
	ChallengeTLSALPN01 = "tls-alpn-01"
	ChallengeHTTP01    = "http-01"
)

// ACMEOptions configure certificates from an ACME server.
type ACMEOptions struct {
	// Directory is the ACME directory URL.
	Directory string
	// Email is the account's contact address; empty gives none.
	Email string
	// Roots verify the ACME server's HTTPS; nil is the system roots.
	Roots *x509.CertPool
	// Names are the certificate's DNS names, the first one its subject.
	Names []string
	// Challenges are the challenge types this gateway can answer, in order of preference:
	// ChallengeTLSALPN01 when a TLS listener is reached on port 443, ChallengeHTTP01 when
	// HTTPHandler is reached on port 80.
	Challenges []string
}

// acmeIssuer obtains and renews the certificate. The account key and the certificate live in
// Files under acme/<hash of the directory URL>/, so a change of CA starts afresh.
type acmeIssuer struct {
	m     *Manager
	opts  ACMEOptions
	files keys.Files
	mk    *keys.MasterKey
	dir   string

	client *acme.Client // made on first use; guarded by m.mu

	mu    sync.Mutex
	alpn  map[string]*tls.Certificate // TLS-ALPN-01 certificates by name
	http  map[string]string           // HTTP-01 key authorizations by token
	retry time.Time                   // no new attempt before this, after a failure
	fails int

	// dropped are names left out of the certificate because their validation failed (no DNS
	// record yet, say), until a time to try them again; guarded by m.mu.
	dropped map[string]droppedName
}

type droppedName struct {
	until time.Time
	pause time.Duration
}

// Bounds of the pause before a name whose validation failed is tried again.
const (
	dropPauseMin = time.Hour
	dropPauseMax = 24 * time.Hour
)

// wanted returns the names to order now: all of them but those dropped until later. The first
// (the hostname) is never dropped.
func (a *acmeIssuer) wanted(now time.Time) []string {
	out := []string{a.opts.Names[0]}
	for _, n := range a.opts.Names[1:] {
		if d, ok := a.dropped[n]; !ok || !now.Before(d.until) {
			out = append(out, n)
		}
	}
	return out
}

// drop leaves names out until a pause that doubles with each failure has passed.
func (a *acmeIssuer) drop(names []string, now time.Time) time.Duration {
	var longest time.Duration
	for _, n := range names {
		d := a.dropped[n]
		d.pause = min(max(d.pause*2, dropPauseMin), dropPauseMax)
		d.until = now.Add(d.pause)
		a.dropped[n] = d
		longest = max(longest, d.pause)
	}
	return longest
}

func newACMEIssuer(m *Manager, opts ACMEOptions, files keys.Files, mk *keys.MasterKey) (*acmeIssuer, error) {
	if len(opts.Names) == 0 || len(opts.Challenges) == 0 || files == nil || mk == nil {
		return nil, errors.New("certs: ACME needs names, a challenge type, files and the master key")
	}
	sum := sha256.Sum256([]byte(opts.Directory))
	return &acmeIssuer{m: m, opts: opts, files: files, mk: mk, dir: "acme/" + hex.EncodeToString(sum[:8]),
		alpn: map[string]*tls.Certificate{}, http: map[string]string{}, dropped: map[string]droppedName{}}, nil
}

func (a *acmeIssuer) certFile() string    { return a.dir + "/certificate.sealed" }
func (a *acmeIssuer) accountFile() string { return a.dir + "/account.sealed" }

// loadStored returns the stored certificate, or nil when there is none. It may not cover
// every name (names were added): it is still better than the self-signed one until the new
// order completes; renewDue sees it is due.
func (a *acmeIssuer) loadStored(ctx context.Context) (*tls.Certificate, error) {
	sealed, err := a.files.ReadFile(ctx, a.certFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pemData, err := a.mk.Open(acmeCertPurpose, sealed)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func covers(leaf *x509.Certificate, names []string) bool {
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// renewDue reports whether leaf should be replaced at now: two thirds of its lifetime have
// passed (30 of 90 days left, 2 of 6 days for short-lived certificates), or it does not cover
// names.
func renewDue(leaf *x509.Certificate, names []string, now time.Time) bool {
	if leaf == nil || !covers(leaf, names) {
		return true
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return !now.Before(leaf.NotBefore.Add(life * 2 / 3))
}

// renewIfDue obtains a certificate when the current one is not an ACME certificate for the
// names or is due for renewal. Failures are logged and retried with a growing pause.
func (a *acmeIssuer) renewIfDue(ctx context.Context) (bool, error) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	now := a.m.opts.Now()
	names := a.wanted(now)
	// Another node may have renewed it already.
	if c, err := a.loadStored(ctx); err == nil && c != nil && !renewDue(c.Leaf, names, now) {
		return a.m.swap(c), nil
	}
	cur := a.m.cur.Load()
	leaf, _ := leafOf(cur)
	if !a.isIssued(leaf) || renewDue(leaf, names, now) {
		if now.Before(a.retry) {
			return false, nil
		}
		c, err := a.obtain(ctx, names, now)
		if err != nil {
			a.fails++
			pause := min(time.Minute<<min(a.fails-1, 10), 12*time.Hour)
			a.retry = now.Add(pause)
			a.m.log.Error("tls: ACME certificate not obtained", "names", a.opts.Names, "err", err, "retry_in", pause.String())
			return false, err
		}
		a.fails, a.retry = 0, time.Time{}
		a.m.swap(c)
		a.m.log.Info("tls: ACME certificate installed", "subject", describe(c))
		return true, nil
	}
	return false, nil
}

// isIssued reports whether leaf is one this issuer stored (not the fallback).
func (a *acmeIssuer) isIssued(leaf *x509.Certificate) bool {
	return leaf != nil && leaf.Issuer.String() != leaf.Subject.String()
}

// clientFor returns the ACME client with its account registered.
func (a *acmeIssuer) clientFor(ctx context.Context) (*acme.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	key, err := a.accountKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("account key: %w", err)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if a.opts.Roots != nil {
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.opts.Roots, MinVersion: tls.VersionTLS12}}
	}
	c := &acme.Client{Key: key, DirectoryURL: a.opts.Directory, HTTPClient: hc, UserAgent: "sealgate"}
	acct := &acme.Account{}
	if a.opts.Email != "" {
		acct.Contact = []string{"mailto:" + a.opts.Email}
	}
	if _, err := c.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("account: %w", err)
	}
	a.client = c
	return c, nil
}

// accountKey loads the sealed account key, making it on first use (the first node to store
// one wins).
func (a *acmeIssuer) accountKey(ctx context.Context) (crypto.Signer, error) {
	der, err := SealedKey(ctx, a.files, a.mk, a.accountFile(), acmeAccountPurpose)
	if err != nil {
		return nil, err
	}
	return keys.ParseSigner(der)
}

// obtain runs one order (RFC 8555 §7.4): authorize every name, finalize with a new key,
// fetch the chain, store it sealed.
// A name other than the first whose validation fails is left out (drop) and the order is made
// again without it, so that one missing DNS record does not cost the whole certificate.
func (a *acmeIssuer) obtain(ctx context.Context, names []string, now time.Time) (*tls.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, err := a.clientFor(ctx)
	if err != nil {
		return nil, err
	}
	var order *acme.Order
	for attempt := 0; ; attempt++ {
		if order, err = c.AuthorizeOrder(ctx, acme.DomainIDs(names...)); err != nil {
			return nil, fmt.Errorf("new order: %w", err)
		}
		var failed []string
		var errs []error
		for _, zurl := range order.AuthzURLs {
			if name, err := a.authorize(ctx, c, zurl); err != nil {
				failed, errs = append(failed, name), append(errs, err)
			}
		}
		if len(failed) == 0 {
			break
		}
		if attempt > 0 || slices.Contains(failed, names[0]) || len(failed) == len(names) || ctx.Err() != nil {
			return nil, errors.Join(errs...)
		}
		pause := a.drop(failed, now)
		a.m.log.Warn("tls: names left out of the ACME certificate: their validation failed",
			"names", failed, "err", errors.Join(errs...), "retry_in", pause.String())
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(failed, n) })
	}
	if order, err = c.WaitOrder(ctx, order.URI); err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		return nil, err
	}
	chain, _, err := c.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	var pemData []byte
	for _, der := range chain {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	cert, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	if !covers(cert.Leaf, names) {
		return nil, fmt.Errorf("issued certificate is for %v, not %v", cert.Leaf.DNSNames, names)
	}
	for _, n := range names {
		delete(a.dropped, n)
	}
	sealed, err := a.mk.Seal(acmeCertPurpose, pemData)
	if err != nil {
		return nil, err
	}
	if err := a.files.WriteFile(ctx, a.certFile(), sealed); err != nil {
		return nil, fmt.Errorf("store certificate: %w", err)
	}
	return &cert, nil
}

// authorize answers one authorization, whose name it returns, with the first challenge type it offers that this
// gateway can answer, and waits for the result.
func (a *acmeIssuer) authorize(ctx context.Context, c *acme.Client, zurl string) (name string, err error) {
	z, err := c.GetAuthorization(ctx, zurl)
	if err != nil {
		return "", fmt.Errorf("authorization: %w", err)
	}
	name = z.Identifier.Value
	if z.Status == acme.StatusValid {
		return name, nil
	}
	// After failures the next challenge type goes first: a TLS-ALPN-01 that cannot reach port
	// 443 (a proxy terminating TLS in front) must not block HTTP-01 forever.
	prefs := slices.Clone(a.opts.Challenges)
	if len(prefs) > 1 {
		k := a.fails % len(prefs)
		prefs = append(prefs[k:], prefs[:k]...)
	}
	var chal *acme.Challenge
	for _, want := range prefs {
		if i := slices.IndexFunc(z.Challenges, func(ch *acme.Challenge) bool { return ch.Type == want }); i >= 0 {
			chal = z.Challenges[i]
			break
		}
	}
	if chal == nil {
		return name, fmt.Errorf("%s: the ACME server offers no challenge of types %v", name, a.opts.Challenges)
	}
	switch chal.Type {
	case ChallengeTLSALPN01:
		cert, err := c.TLSALPN01ChallengeCert(chal.Token, name)
		if err != nil {
			return name, err
		}
		a.setChallenge(func() { a.alpn[strings.ToLower(name)] = &cert })
		defer a.setChallenge(func() { delete(a.alpn, strings.ToLower(name)) })
	case ChallengeHTTP01:
		resp, err := c.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return name, err
		}
		a.setChallenge(func() { a.http[chal.Token] = resp })
		defer a.setChallenge(func() { delete(a.http, chal.Token) })
	}
	if _, err := c.Accept(ctx, chal); err != nil {
		return name, fmt.Errorf("%s: accept %s: %w", name, chal.Type, err)
	}
	if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
		return name, fmt.Errorf("%s: %s: %w", name, chal.Type, err)
	}
	return name, nil
}

func (a *acmeIssuer) setChallenge(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

func (a *acmeIssuer) alpnCert(name string) *tls.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.alpn[strings.ToLower(name)]
}

// HTTPHandler answers ACME HTTP-01 validations at /.well-known/acme-challenge/TOKEN and
// passes every other request to next. Without ACME it is next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if m.acme == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, HTTP01Prefix)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		m.acme.mu.Lock()
		resp, ok := m.acme.http[token]
		m.acme.mu.Unlock()
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte(resp))
	})
}

// HTTP01Prefix is the path under which HTTP-01 validations are asked for (RFC 8555 §8.3).
const HTTP01Prefix = "/.well-known/acme-challenge/"

// LoadRoots reads a PEM file of root certificates ([tls] acme_ca_file).
func LoadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}
