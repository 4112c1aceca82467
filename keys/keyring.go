package keys

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/smime"
)

// Options configure Open.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Backend stores the keyring; nil means the embedded SQLite file DIR/keys.db. The
	// Keyring closes it.
	Backend Backend
	// CAName is the common name of the built-in S/MIME CA when it is created; "" means
	// "Sealgate S/MIME CA".
	CAName string
	// Subaddressing is the gateway's sub-address rule: keys are filed under, and looked up
	// by, the base address (user+tag@ uses user@'s keys). Zero: addresses as given.
	Subaddressing address.Subaddressing
}

// Keyring holds OpenPGP keys and X.509 certificates per address. It is safe for concurrent
// use, and several processes may open the same data directory: every call checks the
// backend's change counter, so a change made by the CLI is seen at once by a running server
// (cache.go).
//
// The lookup methods (the Lookup interface) choose keys for mail processing; the admin
// methods (Admin) change the keyring and write the audit log.
type Keyring struct {
	b      Backend
	mk     *MasterKey
	opts   Options
	closed atomic.Bool
	cache  cache // see cache.go
}

// CertKey is an X.509 certificate with its private key and the intermediates to send along.
type CertKey struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Lookup is what the policy engine and the pipeline use. Addresses are normalized (case,
// "+tag"); keys that are expired, revoked or untrusted are never chosen for encryption or
// signing. When an address has usable verified keys, only those are returned; otherwise the
// most recently seen harvested one.
type Lookup interface {
	// Entries describes every key and certificate for addr, whatever their state.
	Entries(ctx context.Context, addr string) ([]Entry, error)
	// EncryptionKeysPGP returns the OpenPGP keys to encrypt to addr (none: empty, no error).
	EncryptionKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error)
	// SigningKeyPGP returns addr's unlocked secret key for signing, or ErrNotFound.
	SigningKeyPGP(ctx context.Context, addr string) (*pgpmime.Key, error)
	// VerificationKeysPGP returns the public keys of addr that signatures may be checked
	// against: every non-revoked key, expired ones included (old mail), untrusted excluded.
	VerificationKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error)
	// KeysByIDPGP returns the public keys holding a (sub)key with this id, for checking a
	// signature whose signer is not known by address.
	KeysByIDPGP(ctx context.Context, keyID uint64) (pgpmime.KeyRing, error)
	// DecryptionKeysPGP returns the unlocked secret keys of addr ("" for every address),
	// expired and revoked ones included: they still open old mail.
	DecryptionKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error)
	// Certificates returns the certificates to encrypt to addr with S/MIME.
	Certificates(ctx context.Context, addr string) ([]*x509.Certificate, error)
	// VerificationCerts returns the certificates of addr that S/MIME signatures made without
	// their certificate may be checked against: every non-revoked one, expired ones included
	// (old mail), untrusted excluded.
	VerificationCerts(ctx context.Context, addr string) ([]*x509.Certificate, error)
	// SigningCert returns addr's certificate and private key for S/MIME signing, or ErrNotFound.
	SigningCert(ctx context.Context, addr string) (CertKey, error)
	// DecryptionCerts returns every certificate of addr with its private key (expired and
	// revoked ones included).
	DecryptionCerts(ctx context.Context, addr string) ([]CertKey, error)
	// DecryptionKeyFor finds the certificate and private key a CMS recipient info names by
	// issuer and serial number, or ErrNotFound.
	DecryptionKeyFor(ctx context.Context, is IssuerSerial) (CertKey, error)
	// DecryptionKeyBySKI finds them by subject key identifier, or ErrNotFound.
	DecryptionKeyBySKI(ctx context.Context, ski []byte) (CertKey, error)
	// TrustRoots returns the CA certificates trusted for S/MIME signers (imported with
	// --trust, and the built-in CA), revoked ones excluded.
	TrustRoots(ctx context.Context) (*x509.CertPool, error)
	// Entry returns the entry with this fingerprint, or ErrNotFound.
	Entry(ctx context.Context, fingerprint string) (Entry, error)
}

var _ Lookup = (*Keyring)(nil)

// Open opens (creating if needed) the keyring in dir, which must exist, with the master key
// that seals its secret keys. With opts.Backend set, the keyring is that backend's and dir is
// not used.
func Open(dir string, mk *MasterKey, opts Options) (*Keyring, error) {
	if mk == nil {
		return nil, errors.New("keys: Open needs the master key")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CAName == "" {
		opts.CAName = "Sealgate S/MIME CA"
	}
	b := opts.Backend
	if b == nil {
		sb, err := openSQLite(dir)
		if err != nil {
			return nil, err
		}
		b = sb
	}
	return &Keyring{b: b, mk: mk, opts: opts}, nil
}

// Close closes the backend.
func (k *Keyring) Close() error {
	if k.closed.Swap(true) {
		return nil
	}
	return k.b.Close()
}

func (k *Keyring) now() time.Time { return k.opts.Now() }

func (k *Keyring) view(ctx context.Context, fn func(Tx) error) error {
	if k.closed.Load() {
		return ErrClosed
	}
	return k.b.View(ctx, fn)
}

// viewed is what read returns in a read-only transaction of k.
func viewed[T any](ctx context.Context, k *Keyring, read func(Tx) (T, error)) (T, error) {
	var out T
	err := k.view(ctx, func(tx Tx) error {
		var err error
		out, err = read(tx)
		return err
	})
	return out, err
}

func (k *Keyring) update(ctx context.Context, fn func(Tx) error) error {
	if k.closed.Load() {
		return ErrClosed
	}
	return k.b.Update(ctx, fn)
}

func (k *Keyring) find(ctx context.Context, q Query) ([]Record, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	return k.findCached(ctx, q, func() ([]Record, error) {
		return viewed(ctx, k, func(tx Tx) ([]Record, error) { return tx.Find(q) })
	})
}

// NormalizeAddress is the form the keyring files addr under: case-folded, without a
// sub-address tag (Options.Subaddressing).
func (k *Keyring) NormalizeAddress(addr string) (string, error) {
	return normalizeAddress(addr, k.opts.Subaddressing)
}

func (k *Keyring) findAddr(ctx context.Context, scheme Scheme, addr string) ([]Record, error) {
	a, err := k.NormalizeAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return k.find(ctx, Query{Scheme: scheme, Address: a})
}

// choose applies the selection rule: usable records only (and with a secret if asked);
// verified ones newest first if there are any, else the most recently seen harvested one.
func choose(rs []Record, now time.Time, needSecret bool) []Record {
	var verified, harvested []Record
	for _, r := range rs {
		if !r.usable(now) || needSecret && r.Sealed == nil {
			continue
		}
		if r.Trust == TrustVerified {
			verified = append(verified, r)
		} else {
			harvested = append(harvested, r)
		}
	}
	if len(verified) > 0 {
		sort.SliceStable(verified, func(i, j int) bool { return verified[i].Created.After(verified[j].Created) })
		return verified
	}
	if len(harvested) == 0 {
		return nil
	}
	sort.SliceStable(harvested, func(i, j int) bool { return harvested[i].Updated.After(harvested[j].Updated) })
	return harvested[:1]
}

// Entries implements Lookup.
func (k *Keyring) Entries(ctx context.Context, addr string) ([]Entry, error) {
	rs, err := k.findAddr(ctx, "", addr)
	if err != nil {
		return nil, err
	}
	return entries(rs), nil
}

func entries(rs []Record) []Entry {
	out := make([]Entry, len(rs))
	for i, r := range rs {
		out[i] = r.Entry
	}
	return out
}

// Entry implements Lookup.
func (k *Keyring) Entry(ctx context.Context, fingerprint string) (Entry, error) {
	r, err := k.get(ctx, fingerprint)
	return r.Entry, err
}

func (k *Keyring) get(ctx context.Context, fingerprint string) (Record, error) {
	fpr, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return Record{}, err
	}
	return viewed(ctx, k, func(tx Tx) (Record, error) { return tx.Get(fpr) })
}

// NormalizeFingerprint accepts upper- or lower-case hex with optional spaces or colons.
func NormalizeFingerprint(s string) (string, error) {
	f := strings.ToUpper(strings.NewReplacer(" ", "", ":", "").Replace(strings.TrimSpace(s)))
	if _, err := hex.DecodeString(f); err != nil || len(f) != 40 && len(f) != 64 {
		return "", fmt.Errorf("keys: %q is not a fingerprint (40 or 64 hex digits)", s)
	}
	return f, nil
}

// EncryptionKeysPGP implements Lookup.
func (k *Keyring) EncryptionKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error) {
	rs, err := k.findAddr(ctx, SchemePGP, addr)
	if err != nil {
		return nil, err
	}
	now := k.now()
	var out pgpmime.KeyRing
	for _, r := range choose(rs, now, false) {
		key, err := k.openPGP(r, false)
		if err != nil {
			return nil, err
		}
		if _, ok := key.Entity().EncryptionKey(now, nil); ok {
			out = append(out, key)
		}
	}
	return out, nil
}

// SigningKeyPGP implements Lookup.
func (k *Keyring) SigningKeyPGP(ctx context.Context, addr string) (*pgpmime.Key, error) {
	rs, err := k.findAddr(ctx, SchemePGP, addr)
	if err != nil {
		return nil, err
	}
	now := k.now()
	for _, r := range choose(rs, now, true) {
		if r.Trust != TrustVerified {
			continue
		}
		key, err := k.openPGP(r, true)
		if err != nil {
			return nil, err
		}
		if _, ok := key.Entity().SigningKey(now, nil); ok {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: no OpenPGP signing key for %s", ErrNotFound, addr)
}

// VerificationKeysPGP implements Lookup.
func (k *Keyring) VerificationKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error) {
	rs, err := k.findAddr(ctx, SchemePGP, addr)
	if err != nil {
		return nil, err
	}
	return k.publicPGP(rs)
}

func (k *Keyring) publicPGP(rs []Record) (pgpmime.KeyRing, error) {
	return openEach(rs, Record.verifies, func(r Record) (*pgpmime.Key, error) { return k.openPGP(r, false) })
}

// openEach opens the records of rs that keep accepts, in order; the first error ends it.
func openEach[T any](rs []Record, keep func(Record) bool, open func(Record) (T, error)) ([]T, error) {
	var out []T
	for _, r := range rs {
		if !keep(r) {
			continue
		}
		v, err := open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// hasSecret reports whether the record keeps a sealed secret key.
func (r Record) hasSecret() bool { return r.Sealed != nil }

// KeysByIDPGP implements Lookup.
func (k *Keyring) KeysByIDPGP(ctx context.Context, keyID uint64) (pgpmime.KeyRing, error) {
	rs, err := k.find(ctx, Query{Scheme: SchemePGP, KeyID: fmt.Sprintf("%016X", keyID)})
	if err != nil {
		return nil, err
	}
	return k.publicPGP(rs)
}

// DecryptionKeysPGP implements Lookup.
func (k *Keyring) DecryptionKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error) {
	var rs []Record
	var err error
	if addr == "" {
		rs, err = k.find(ctx, Query{Scheme: SchemePGP})
	} else {
		rs, err = k.findAddr(ctx, SchemePGP, addr)
	}
	if err != nil {
		return nil, err
	}
	return openEach(rs, Record.hasSecret, func(r Record) (*pgpmime.Key, error) { return k.openPGP(r, true) })
}

// Certificates implements Lookup.
func (k *Keyring) Certificates(ctx context.Context, addr string) ([]*x509.Certificate, error) {
	rs, err := k.findAddr(ctx, SchemeSMIME, addr)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, r := range choose(rs, k.now(), false) {
		c, err := r.certificate()
		if err != nil {
			return nil, err
		}
		if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement) == 0 {
			continue
		}
		// Only keys mail can be encrypted to: an Ed25519 key or one restricted to RSASSA-PSS
		// (RFC 4055) signs only, and no client decrypts with it.
		if !smime.EmailProtection(c) || !smime.Encryptable(c) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// VerificationCerts implements Lookup.
func (k *Keyring) VerificationCerts(ctx context.Context, addr string) ([]*x509.Certificate, error) {
	rs, err := k.findAddr(ctx, SchemeSMIME, addr)
	if err != nil {
		return nil, err
	}
	return verifyingCerts(rs)
}

// verifyingCerts is the certificates of the records of rs that verify (see Entry.verifies).
func verifyingCerts(rs []Record) ([]*x509.Certificate, error) {
	return openEach(rs, Record.verifies, Record.certificate)
}

// certificate parses the record's X.509 certificate.
func (r Record) certificate() (*x509.Certificate, error) {
	c, err := smime.ParseCertificate(r.Public)
	if err != nil {
		return nil, fmt.Errorf("keys: stored %s certificate %s: %w", r.Scheme, r.Fingerprint, err)
	}
	return c, nil
}

// SigningCert implements Lookup.
func (k *Keyring) SigningCert(ctx context.Context, addr string) (CertKey, error) {
	rs, err := k.findAddr(ctx, SchemeSMIME, addr)
	if err != nil {
		return CertKey{}, err
	}
	for _, r := range choose(rs, k.now(), true) {
		if r.Trust != TrustVerified {
			continue
		}
		ck, err := k.certKey(ctx, r)
		if err != nil {
			return CertKey{}, err
		}
		if c := ck.Cert; (c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageDigitalSignature != 0) && smime.EmailProtection(c) {
			return ck, nil
		}
	}
	return CertKey{}, fmt.Errorf("%w: no S/MIME signing certificate for %s", ErrNotFound, addr)
}

// certKey opens a record's certificate, private key and chain. A certificate issued by the
// built-in CA gets the CA certificate as its chain when it has none of its own.
func (k *Keyring) certKey(ctx context.Context, r Record) (CertKey, error) {
	c, err := r.certificate()
	if err != nil {
		return CertKey{}, err
	}
	ck := CertKey{Cert: c}
	if r.Sealed != nil {
		if ck.Key, err = k.openX509Key(r); err != nil {
			return CertKey{}, err
		}
	}
	if len(r.Chain) > 0 {
		if ck.Chain, err = smime.ParseCertificates(r.Chain); err != nil {
			return CertKey{}, fmt.Errorf("keys: stored chain of %s: %w", r.Fingerprint, err)
		}
	}
	return ck, nil
}

// DecryptionCerts implements Lookup.
func (k *Keyring) DecryptionCerts(ctx context.Context, addr string) ([]CertKey, error) {
	rs, err := k.findAddr(ctx, SchemeSMIME, addr)
	if err != nil {
		return nil, err
	}
	return k.withKeys(ctx, rs)
}

func (k *Keyring) withKeys(ctx context.Context, rs []Record) ([]CertKey, error) {
	return openEach(rs, Record.hasSecret, func(r Record) (CertKey, error) { return k.certKey(ctx, r) })
}

// DecryptionKeyFor implements Lookup.
func (k *Keyring) DecryptionKeyFor(ctx context.Context, is IssuerSerial) (CertKey, error) {
	return k.oneWithKey(ctx, Query{Scheme: SchemeSMIME, IssuerSerial: issuerSerialKey(is.Issuer, is.Serial)})
}

// DecryptionKeyBySKI implements Lookup.
func (k *Keyring) DecryptionKeyBySKI(ctx context.Context, ski []byte) (CertKey, error) {
	return k.oneWithKey(ctx, Query{Scheme: SchemeSMIME, SubjectKeyID: strings.ToUpper(hex.EncodeToString(ski))})
}

func (k *Keyring) oneWithKey(ctx context.Context, q Query) (CertKey, error) {
	if q.IssuerSerial == "" && q.SubjectKeyID == "" {
		return CertKey{}, ErrNotFound
	}
	rs, err := k.find(ctx, q)
	if err != nil {
		return CertKey{}, err
	}
	cks, err := k.withKeys(ctx, rs)
	if err != nil {
		return CertKey{}, err
	}
	if len(cks) == 0 {
		return CertKey{}, ErrNotFound
	}
	return cks[0], nil
}

// TrustRoots implements Lookup.
func (k *Keyring) TrustRoots(ctx context.Context) (*x509.CertPool, error) {
	rs, err := k.find(ctx, Query{Scheme: SchemeCA})
	if err != nil {
		return nil, err
	}
	cs, err := verifyingCerts(rs)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cs {
		pool.AddCert(c)
	}
	return pool, nil
}

// List returns every entry, or those of addr when it is not "".
func (k *Keyring) List(ctx context.Context, addr string) ([]Entry, error) {
	if addr != "" {
		return k.Entries(ctx, addr)
	}
	rs, err := k.find(ctx, Query{})
	if err != nil {
		return nil, err
	}
	return entries(rs), nil
}

// Audit returns the audit log, oldest first.
func (k *Keyring) Audit(ctx context.Context) ([]AuditEntry, error) {
	return viewed(ctx, k, Tx.Audit)
}

// Pending returns the recorded pending key changes, oldest first.
func (k *Keyring) Pending(ctx context.Context) ([]PendingChange, error) {
	return viewed(ctx, k, Tx.Pending)
}

// Now is the keyring's clock.
func (k *Keyring) Now() time.Time { return k.now() }
