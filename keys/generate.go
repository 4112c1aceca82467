package keys

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/smime"
)

// PGPOptions configure GeneratePGP.
type PGPOptions struct {
	// Algorithm is "ed25519" (the default) or "rsa3072".
	Algorithm string
	// V6 makes an RFC 9580 version 6 key (Ed25519/X25519 or RSA). The default is a version 4
	// key that GnuPG 2.2 reads: for ed25519 that is EdDSA (legacy) with an ECDH Curve25519
	// encryption subkey.
	V6 bool
	// PQ adds post-quantum encryption (RFC 9980): an ML-KEM-768+X25519 (algorithm 35)
	// encryption subkey, which RFC 9980 allows on version 4 keys. A version 4 key keeps its
	// classical encryption subkey beside it, for senders without RFC 9980 (GnuPG 2.2);
	// senders that have it (go-crypto, and so Sealgate) prefer the post-quantum one. With V6
	// the whole key is post-quantum: an ML-DSA-65+Ed25519 (algorithm 30) primary key, which
	// RFC 9980 allows only on version 6 keys, and the ML-KEM-768+X25519 subkey alone. A PQ key
	// prefers AES-256 and announces SEIPD version 2 (AES-256-OCB); Algorithm must be ed25519.
	PQ bool
}

// Validity of what the built-in CA issues, and of the CA itself.
const (
	certValidity = 2 * 365 * 24 * time.Hour
	caValidity   = 10 * 365 * 24 * time.Hour
	rsaBits      = 3072 // what Outlook and Thunderbird all handle
)

// GeneratePGP makes an OpenPGP key whose user id is the address, and stores it (secret part
// sealed) as verified.
func (a *Admin) GeneratePGP(ctx context.Context, addr string, o PGPOptions) (Entry, error) {
	na, err := a.k.NormalizeAddress(addr)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	now := a.k.now()
	cfg := &packet.Config{Time: func() time.Time { return now }, V6Keys: o.V6}
	switch o.Algorithm {
	case "", "ed25519":
		if o.PQ && o.V6 {
			cfg.Algorithm = packet.PubKeyAlgoMldsa65Ed25519 // its subkey: ML-KEM-768+X25519
		} else if o.V6 {
			cfg.Algorithm = packet.PubKeyAlgoEd25519
		} else {
			cfg.Algorithm = packet.PubKeyAlgoEdDSA
			cfg.Curve = packet.Curve25519
		}
	case "rsa3072":
		if o.PQ {
			return Entry{}, fmt.Errorf("%w: a post-quantum key is made with ed25519", ErrRefused)
		}
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = 3072
	default:
		return Entry{}, fmt.Errorf("%w: unknown algorithm %q (ed25519 or rsa3072)", ErrRefused, o.Algorithm)
	}
	if o.PQ {
		// RFC 9980 §"Symmetric Algorithms for SEIPD Packets": AES-256 for PQ keys.
		cfg.DefaultCipher = packet.CipherAES256
		cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	}
	e, err := openpgp.NewEntity("", "", na, cfg)
	if err != nil {
		return Entry{}, fmt.Errorf("keys: generate OpenPGP key: %w", err)
	}
	if o.PQ && !o.V6 {
		sub := *cfg
		sub.Algorithm = packet.PubKeyAlgoMlkem768X25519
		if err := e.AddEncryptionSubkey(&sub); err != nil {
			return Entry{}, fmt.Errorf("keys: generate OpenPGP key: post-quantum subkey: %w", err)
		}
	}
	r, err := pgpRecord(e, now, a.k.opts.Subaddressing)
	if err != nil {
		return Entry{}, err
	}
	if r.Sealed, err = a.k.sealPGPSecret(e); err != nil {
		return Entry{}, err
	}
	r.Trust, r.Source, r.Added, r.Updated, r.Secret = TrustVerified, SourceGenerated, now, now, true
	err = a.k.update(ctx, func(tx Tx) error {
		if err := tx.Put(r); err != nil {
			return err
		}
		return tx.AppendAudit(AuditEntry{At: now, Actor: a.actor, Action: "generate", Fingerprint: r.Fingerprint,
			Detail: fmt.Sprintf("pgp %s v%d %s", r.Algorithm, e.PrimaryKey.Version, na)})
	})
	return r.Entry, err
}

// GenerateSMIME issues an S/MIME certificate for the address from the built-in CA (created
// on first use): RSA 3072, emailProtection, the address as subjectAltName.
func (a *Admin) GenerateSMIME(ctx context.Context, addr string) (Entry, error) {
	na, err := a.k.NormalizeAddress(addr)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return Entry{}, err
	}
	var out Entry
	// The CA is found or created inside the write transaction, so two processes never create
	// two CAs.
	err = a.k.update(ctx, func(tx Tx) error {
		now := a.k.now()
		ca, err := a.builtinCA(tx, now)
		if err != nil {
			return err
		}
		notAfter := now.Add(certValidity)
		if notAfter.After(ca.Cert.NotAfter) {
			notAfter = ca.Cert.NotAfter
		}
		tmpl := &x509.Certificate{
			SerialNumber:          randomSerial(),
			Subject:               pkix.Name{CommonName: na},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
			EmailAddresses:        []string{na},
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &priv.PublicKey, ca.Key)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		r := certRecord(cert, SchemeSMIME, a.k.opts.Subaddressing)
		if r.Sealed, err = a.k.sealX509Key(r.Fingerprint, priv); err != nil {
			return err
		}
		r.Chain = ca.Cert.Raw
		r.Trust, r.Source, r.Added, r.Updated, r.Secret = TrustVerified, SourceGenerated, now, now, true
		if err := tx.Put(r); err != nil {
			return err
		}
		out = r.Entry
		return tx.AppendAudit(AuditEntry{At: now, Actor: a.actor, Action: "generate", Fingerprint: r.Fingerprint,
			Detail: fmt.Sprintf("smime %s %s issued by %s", r.Algorithm, na, ca.fingerprint)})
	})
	return out, err
}

type caKey struct {
	CertKey
	fingerprint string
}

// builtinCA returns the built-in CA (a usable CA record with a private key made here),
// creating it when there is none.
func (a *Admin) builtinCA(tx Tx, now time.Time) (caKey, error) {
	rs, err := tx.Find(Query{Scheme: SchemeCA})
	if err != nil {
		return caKey{}, err
	}
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if r.Sealed == nil || r.Source != SourceGenerated || r.State(now) != StateValid || r.Expires.Sub(now) < 30*24*time.Hour {
			continue
		}
		ck, err := a.k.certKey(context.Background(), r)
		if err != nil {
			return caKey{}, err
		}
		return caKey{ck, r.Fingerprint}, nil
	}
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return caKey{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: a.k.opts.CAName, Organization: []string{"Sealgate"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return caKey{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return caKey{}, err
	}
	r := certRecord(cert, SchemeCA, a.k.opts.Subaddressing)
	if r.Sealed, err = a.k.sealX509Key(r.Fingerprint, priv); err != nil {
		return caKey{}, err
	}
	r.Trust, r.Source, r.Added, r.Updated, r.Secret = TrustVerified, SourceGenerated, now, now, true
	if err := tx.Put(r); err != nil {
		return caKey{}, err
	}
	if err := tx.AppendAudit(AuditEntry{At: now, Actor: a.actor, Action: "generate", Fingerprint: r.Fingerprint,
		Detail: "ca " + r.Algorithm + " " + cert.Subject.String()}); err != nil {
		return caKey{}, err
	}
	return caKey{CertKey{Cert: cert, Key: priv}, r.Fingerprint}, nil
}

// CACertificate returns the built-in CA's certificate, or ErrNotFound before the first
// S/MIME certificate was generated.
func (k *Keyring) CACertificate(ctx context.Context) (*x509.Certificate, error) {
	rs, err := k.find(ctx, Query{Scheme: SchemeCA})
	if err != nil {
		return nil, err
	}
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Sealed != nil && rs[i].Source == SourceGenerated && rs[i].Revoked.IsZero() {
			return smime.ParseCertificate(rs[i].Public)
		}
	}
	return nil, fmt.Errorf("%w: no built-in CA yet (it is made by the first keys generate --smime)", ErrNotFound)
}

func randomSerial() *big.Int {
	// crypto/rand.Reader never fails (it crashes the program instead), so neither does Int.
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}
