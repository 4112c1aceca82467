package keys

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"software.sslmate.com/src/go-pkcs12"
)

// changeEntry runs change on the record of fingerprint in one transaction of the keyring and
// returns the entry as change left it.
func (a *Admin) changeEntry(ctx context.Context, fingerprint string, change func(tx Tx, r *Record) error) (Entry, error) {
	fpr, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return Entry{}, err
	}
	var out Entry
	err = a.k.update(ctx, func(tx Tx) error {
		r, err := tx.Get(fpr)
		if err != nil {
			return err
		}
		if err := change(tx, &r); err != nil {
			return err
		}
		out = r.Entry
		return nil
	})
	return out, err
}

// Revoke marks an entry revoked. For an OpenPGP key whose secret part the keyring holds, a
// revocation signature is added to the public key too, so exports and WKD carry it.
func (a *Admin) Revoke(ctx context.Context, fingerprint string) (Entry, error) {
	return a.changeEntry(ctx, fingerprint, func(tx Tx, r *Record) error {
		if !r.Revoked.IsZero() {
			return fmt.Errorf("%w: %s is already revoked", ErrRefused, r.Fingerprint)
		}
		now := a.k.now()
		if r.Scheme == SchemePGP && r.Sealed != nil {
			key, err := a.k.openPGP(*r, true)
			if err != nil {
				return err
			}
			e := key.Entity()
			cfg := &packet.Config{Time: a.k.opts.Now}
			if err := e.Revoke(packet.NoReason, "revoked by the operator", cfg); err != nil {
				return fmt.Errorf("keys: revocation signature: %w", err)
			}
			if r.Public, err = serializePublic(e); err != nil {
				return err
			}
		}
		r.Revoked, r.Updated = now, now
		if err := tx.Put(*r); err != nil {
			return err
		}
		return tx.AppendAudit(AuditEntry{At: now, Actor: a.actor, Action: "revoke", Fingerprint: r.Fingerprint,
			Detail: string(r.Scheme) + " " + strings.Join(r.Addresses, ",")})
	})
}

// Delete removes an entry with its secret part.
func (a *Admin) Delete(ctx context.Context, fingerprint string) (Entry, error) {
	return a.changeEntry(ctx, fingerprint, func(tx Tx, r *Record) error {
		if err := tx.Delete(r.Fingerprint); err != nil {
			return err
		}
		detail := string(r.Scheme) + " " + strings.Join(r.Addresses, ",")
		if r.Sealed != nil {
			detail += " with secret key"
		}
		return tx.AppendAudit(AuditEntry{At: a.k.now(), Actor: a.actor, Action: "delete", Fingerprint: r.Fingerprint, Detail: strings.TrimSpace(detail)})
	})
}

// SetTrust changes an entry's trust level (for example to accept a pending harvested key,
// or to mark a key untrusted so that it is never chosen).
func (a *Admin) SetTrust(ctx context.Context, fingerprint string, t Trust) (Entry, error) {
	if _, ok := ParseTrust(string(t)); !ok {
		return Entry{}, fmt.Errorf("%w: unknown trust level %q", ErrRefused, t)
	}
	return a.changeEntry(ctx, fingerprint, func(tx Tx, r *Record) error {
		now := a.k.now()
		old := r.Trust
		r.Trust, r.Updated = t, now
		if err := tx.Put(*r); err != nil {
			return err
		}
		return tx.AppendAudit(AuditEntry{At: now, Actor: a.actor, Action: "trust", Fingerprint: r.Fingerprint, Detail: string(old) + " -> " + string(t)})
	})
}

// exportRecord picks what `keys export` writes for target (an address or a fingerprint):
// by fingerprint that entry; by address the key lookups would choose (with a secret part
// when secret is asked), else the newest entry of the scheme.
func (a *Admin) exportRecord(ctx context.Context, target string, scheme Scheme, secret bool) (Record, error) {
	if !strings.Contains(target, "@") {
		r, err := a.k.get(ctx, target)
		if err != nil {
			return Record{}, err
		}
		if r.Scheme != scheme {
			return Record{}, fmt.Errorf("%w: %s is a %s entry", ErrNotFound, r.Fingerprint, r.Scheme)
		}
		if secret && r.Sealed == nil {
			return Record{}, fmt.Errorf("%w: no secret key for %s", ErrNotFound, r.Fingerprint)
		}
		return r, nil
	}
	rs, err := a.k.findAddr(ctx, scheme, target)
	if err != nil {
		return Record{}, err
	}
	if c := choose(rs, a.k.now(), secret); len(c) > 0 {
		return c[0], nil
	}
	for i := len(rs) - 1; i >= 0; i-- {
		if !secret || rs[i].Sealed != nil {
			return rs[i], nil
		}
	}
	what := map[Scheme]string{SchemePGP: "OpenPGP key", SchemeSMIME: "S/MIME certificate"}[scheme]
	if secret {
		what += " with a secret key"
	}
	return Record{}, fmt.Errorf("%w: no %s for %s", ErrNotFound, what, target)
}

// ExportPGP returns the armored public key for target (address or fingerprint), or with
// secret the armored secret key without a passphrase. A secret export is audited.
func (a *Admin) ExportPGP(ctx context.Context, target string, secret bool) ([]byte, error) {
	r, err := a.exportRecord(ctx, target, SchemePGP, secret)
	if err != nil {
		return nil, err
	}
	if !secret {
		return armorBytes(openpgp.PublicKeyType, r.Public)
	}
	key, err := a.k.openPGP(r, true)
	if err != nil {
		return nil, err
	}
	raw, err := serializeSecret(key.Entity())
	if err != nil {
		return nil, err
	}
	if err := a.auditExport(ctx, r); err != nil {
		return nil, err
	}
	return armorBytes(openpgp.PrivateKeyType, raw)
}

// ExportSMIME returns the PEM certificate for target (address or fingerprint), or with
// secret the PEM PKCS#8 private key followed by the certificate. A secret export is audited.
func (a *Admin) ExportSMIME(ctx context.Context, target string, secret bool) ([]byte, error) {
	r, err := a.exportRecord(ctx, target, SchemeSMIME, secret)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if secret {
		priv, err := a.k.openX509Key(r)
		if err != nil {
			return nil, err
		}
		der, err := marshalX509Key(priv, r.Public)
		if err != nil {
			return nil, err
		}
		if err := a.auditExport(ctx, r); err != nil {
			return nil, err
		}
		pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Public})
	return buf.Bytes(), nil
}

// PKCS12Cipher selects how ExportSMIMEPKCS12 protects the file.
type PKCS12Cipher int

const (
	// PKCS12TripleDES: keys and certificates encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC,
	// SHA-1 MAC. Read by GnuPG 2.2 (gpgsm --import reads no PBES2), OpenSSL 3, NSS
	// (Thunderbird, Firefox), Windows and macOS.
	PKCS12TripleDES PKCS12Cipher = iota
	// PKCS12AES256: PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA-256, SHA-256 MAC (what OpenSSL 3
	// writes by default). Read by OpenSSL 3, NSS and current Windows and macOS, not by GnuPG 2.2.
	PKCS12AES256
)

// ParsePKCS12Cipher reads "3des" or "aes256".
func ParsePKCS12Cipher(s string) (PKCS12Cipher, bool) {
	switch strings.ToLower(s) {
	case "3des", "":
		return PKCS12TripleDES, true
	case "aes256", "aes-256":
		return PKCS12AES256, true
	}
	return 0, false
}

// PKCS12Options configures ExportSMIMEPKCS12.
type PKCS12Options struct {
	// Passphrase protects the file (empty: an empty passphrase, which every reader accepts).
	Passphrase []byte
	Cipher     PKCS12Cipher
}

// ExportSMIMEPKCS12 returns the S/MIME certificate of target (address or fingerprint) with its
// private key and stored chain as a PKCS#12 file (RFC 7292), the form mail clients and gpgsm
// import. The export is audited.
func (a *Admin) ExportSMIMEPKCS12(ctx context.Context, target string, opts PKCS12Options) ([]byte, error) {
	r, err := a.exportRecord(ctx, target, SchemeSMIME, true)
	if err != nil {
		return nil, err
	}
	ck, err := a.k.certKey(ctx, r)
	if err != nil {
		return nil, err
	}
	enc := pkcs12.LegacyDES
	if opts.Cipher == PKCS12AES256 {
		enc = pkcs12.Modern2023
	}
	pfx, err := enc.Encode(ck.Key, ck.Cert, ck.Chain, string(opts.Passphrase))
	if err != nil {
		return nil, fmt.Errorf("keys: PKCS#12 of %s: %w", r.Fingerprint, err)
	}
	if err := a.auditExport(ctx, r); err != nil {
		return nil, err
	}
	return pfx, nil
}

// ExportCA returns the built-in CA certificate as PEM, for clients to trust.
func (k *Keyring) ExportCA(ctx context.Context) ([]byte, error) {
	c, err := k.CACertificate(ctx)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), nil
}

func (a *Admin) auditExport(ctx context.Context, r Record) error {
	return a.k.update(ctx, func(tx Tx) error {
		return tx.AppendAudit(AuditEntry{At: a.k.now(), Actor: a.actor, Action: "export-secret", Fingerprint: r.Fingerprint,
			Detail: string(r.Scheme) + " " + strings.Join(r.Addresses, ",")})
	})
}

// HarvestCertificate stores the signer certificate of a verified S/MIME signature (the caller
// has checked its chain) as harvested, with the intermediates that came with it. It never
// replaces a verified certificate: when the address has one with another fingerprint, the
// new one is kept as harvested (not chosen while the verified one is usable) and a pending
// change is recorded.
func (k *Keyring) HarvestCertificate(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate) (Entry, error) {
	r := certRecord(cert, SchemeSMIME, k.opts.Subaddressing)
	if len(r.Addresses) == 0 {
		return Entry{}, fmt.Errorf("%w: certificate %q has no e-mail address", ErrRefused, cert.Subject.String())
	}
	r.Chain = concatDER(chain)
	return k.harvest(ctx, r, SourceSMIME)
}

// HarvestAutocrypt stores the key of an Autocrypt header (keydata: the base64-decoded binary
// key) for addr as harvested, under the same rule as HarvestCertificate.
func (k *Keyring) HarvestAutocrypt(ctx context.Context, addr string, keydata []byte) (Entry, error) {
	return k.harvestPGP(ctx, addr, keydata, SourceAutocrypt)
}

// HarvestWKD stores a key found by a Web Key Directory lookup for addr as harvested, under the
// same rule as HarvestCertificate.
func (k *Keyring) HarvestWKD(ctx context.Context, addr string, keydata []byte) (Entry, error) {
	return k.harvestPGP(ctx, addr, keydata, SourceWKD)
}

func (k *Keyring) harvestPGP(ctx context.Context, addr string, keydata []byte, source string) (Entry, error) {
	na, err := k.NormalizeAddress(addr)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	el, err := openpgp.ReadKeyRing(bytes.NewReader(keydata))
	if err != nil || len(el) != 1 {
		return Entry{}, fmt.Errorf("%w: %s key data is not one OpenPGP key", ErrRefused, source)
	}
	e := el[0]
	if e.PrivateKey != nil {
		return Entry{}, fmt.Errorf("%w: %s key data holds a secret key", ErrRefused, source)
	}
	r, err := pgpRecord(e, k.now(), k.opts.Subaddressing)
	if err != nil {
		return Entry{}, err
	}
	r.Addresses = []string{na}
	return k.harvest(ctx, r, source)
}

func (k *Keyring) harvest(ctx context.Context, r Record, source string) (Entry, error) {
	now := k.now()
	if st := r.State(now); st != StateValid {
		return Entry{}, fmt.Errorf("%w: harvested %s key %s is %s", ErrRefused, r.Scheme, r.Fingerprint, st)
	}
	var out Entry
	err := k.update(ctx, func(tx Tx) error {
		old, err := tx.Get(r.Fingerprint)
		if err == nil {
			if old.Trust != TrustHarvested {
				// An operator's entry is not changed by what arrives in mail.
				out = old.Entry
				return nil
			}
			// Seen again: it becomes the most recently seen harvested key.
			r = merge(old, r)
			r.Trust, r.Source, r.Updated = old.Trust, old.Source, now
			out = r.Entry
			return tx.Put(r)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		r.Trust, r.Source, r.Added, r.Updated = TrustHarvested, source, now, now
		if err := tx.Put(r); err != nil {
			return err
		}
		out = r.Entry
		if err := tx.AppendAudit(AuditEntry{At: now, Actor: "harvest", Action: "harvest", Fingerprint: r.Fingerprint,
			Detail: fmt.Sprintf("%s %s from %s", r.Scheme, strings.Join(r.Addresses, ","), source)}); err != nil {
			return err
		}
		for _, addr := range r.Addresses {
			others, err := tx.Find(Query{Scheme: r.Scheme, Address: addr})
			if err != nil {
				return err
			}
			for _, o := range others {
				if o.Fingerprint == r.Fingerprint || o.Trust != TrustVerified || !o.usable(now) {
					continue
				}
				if err := tx.AddPending(PendingChange{At: now, Address: addr, Scheme: r.Scheme, OldFingerprint: o.Fingerprint,
					NewFingerprint: r.Fingerprint, Source: source}); err != nil {
					return err
				}
				if err := tx.AppendAudit(AuditEntry{At: now, Actor: "harvest", Action: "pending", Fingerprint: r.Fingerprint,
					Detail: fmt.Sprintf("%s differs from verified %s for %s", r.Fingerprint, o.Fingerprint, addr)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out, err
}
