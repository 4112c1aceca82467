package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/sealgate/sealgate/crypto/smime"
)

// Admin changes the keyring on behalf of an actor; every change is written to the audit log
// in the same transaction.
type Admin struct {
	k     *Keyring
	actor string
}

// Admin returns the administrative API acting as actor ("cli:root", "webmail:alice@...").
func (k *Keyring) Admin(actor string) *Admin {
	if actor == "" {
		actor = "unknown"
	}
	return &Admin{k: k, actor: actor}
}

// ImportOptions configure Import.
type ImportOptions struct {
	// Address binds every imported key or certificate to this address too (needed for a
	// certificate or key without an e-mail address).
	Address string
	// AllowExpired keeps expired keys and certificates (to decrypt old mail); they are never
	// chosen for encryption or signing.
	AllowExpired bool
	// Passphrase opens passphrase-protected OpenPGP secret keys and PKCS#12 files.
	Passphrase []byte
	// TrustAnchor imports CA certificates trusted for S/MIME signers.
	TrustAnchor bool
}

// Import reads OpenPGP keys (public or secret, armored or binary), X.509 certificates (PEM or
// DER), PEM private keys (matched to a certificate in the input or the keyring) or a PKCS#12
// file, and stores them as verified, in one transaction: on any error nothing is stored.
// Secret material is stored sealed, without its passphrase.
func (a *Admin) Import(ctx context.Context, data []byte, opts ImportOptions) ([]Entry, error) {
	k := a.k
	now := k.now()
	bind := ""
	if opts.Address != "" {
		var err error
		if bind, err = k.NormalizeAddress(opts.Address); err != nil {
			return nil, fmt.Errorf("%w: --address: %v", ErrRefused, err)
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the input is empty", ErrRefused)
	}
	var (
		entities openpgp.EntityList
		certs    []*x509.Certificate
		privs    []crypto.Signer
		chain    []*x509.Certificate
		err      error
	)
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case bytes.Contains(data, []byte("-----BEGIN PGP ")):
		entities, err = readOpenPGP(data)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) || bytes.Contains(data, []byte("\n-----BEGIN ")):
		// PEM, also after the "Bag Attributes" text `openssl pkcs12 -nodes` writes.
		var in pemInput
		in, err = parsePEM(data)
		certs, privs = in.certs, in.keys
	case data[0] == 0x30:
		if c, cerr := smime.ParseCertificate(data); cerr == nil {
			certs = []*x509.Certificate{c}
		} else {
			var priv any
			var c *x509.Certificate
			priv, c, chain, err = pkcs12.DecodeChain(data, string(opts.Passphrase))
			if err != nil {
				if errors.Is(err, pkcs12.ErrIncorrectPassword) {
					return nil, fmt.Errorf("%w: the PKCS#12 file does not open with the passphrase given (--passphrase-file)", ErrRefused)
				}
				if strings.Contains(err.Error(), "1.2.840.113549.1.1.10") {
					// go-pkcs12 hands out no key it cannot parse; the PEM form imports.
					return nil, fmt.Errorf("%w: the PKCS#12 file holds an RSASSA-PSS key, which is read only in PEM form: import the output of `openssl pkcs12 -nodes` instead", ErrRefused)
				}
				return nil, fmt.Errorf("%w: not a certificate, key or PKCS#12 file: %v", ErrRefused, err)
			}
			s, ok := priv.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%w: unsupported private key type %T in PKCS#12", ErrRefused, priv)
			}
			certs, privs = []*x509.Certificate{c}, []crypto.Signer{s}
		}
	case data[0]&0x80 != 0:
		entities, err = readOpenPGP(data)
	default:
		return nil, fmt.Errorf("%w: not an OpenPGP key, certificate, private key or PKCS#12 file", ErrRefused)
	}
	if err != nil {
		return nil, err
	}
	if len(entities) == 0 && len(certs) == 0 && len(privs) == 0 {
		return nil, fmt.Errorf("%w: no key or certificate found in the input", ErrRefused)
	}
	if opts.TrustAnchor && (len(entities) > 0 || len(privs) > 0 || len(certs) == 0) {
		return nil, fmt.Errorf("%w: --trust takes CA certificates only", ErrRefused)
	}

	var recs []Record
	for _, e := range entities {
		r, err := a.pgpImportRecord(e, now, bind, opts)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	// Certificates, each with the private key of the input that matches it.
	used := make([]bool, len(privs))
	for _, c := range certs {
		scheme := SchemeSMIME
		if opts.TrustAnchor {
			if !c.IsCA || !c.BasicConstraintsValid {
				return nil, fmt.Errorf("%w: certificate %q is not a CA certificate", ErrRefused, c.Subject.String())
			}
			scheme = SchemeCA
		} else if c.IsCA && len(privs) == 0 && len(certs) == 1 && !selfSignedEndEntity(c) {
			return nil, fmt.Errorf("%w: %q is a CA certificate; import it with --trust", ErrRefused, c.Subject.String())
		}
		r := certRecord(c, scheme, k.opts.Subaddressing)
		if err := checkValidity(r.Entry, now, opts.AllowExpired); err != nil {
			return nil, err
		}
		if scheme == SchemeSMIME {
			if bind != "" {
				r.Addresses = appendUnique(r.Addresses, bind)
			}
			if len(r.Addresses) == 0 {
				return nil, fmt.Errorf("%w: certificate %q has no e-mail address; give one with --address", ErrRefused, c.Subject.String())
			}
		}
		for i, p := range privs {
			if !used[i] && keyMatches(p, c) {
				used[i] = true
				if r.Sealed, err = k.sealX509Key(r.Fingerprint, p); err != nil {
					return nil, err
				}
				r.Chain = concatDER(chain)
			}
		}
		r.Trust, r.Source = TrustVerified, SourceImported
		recs = append(recs, r)
	}

	var out []Entry
	err = k.update(ctx, func(tx Tx) error {
		// Private keys without a certificate in the input go to the stored certificate they
		// belong to.
		for i, p := range privs {
			if used[i] {
				continue
			}
			stored, err := tx.Find(Query{Scheme: SchemeSMIME})
			if err != nil {
				return err
			}
			found := false
			for _, r := range stored {
				c, err := smime.ParseCertificate(r.Public)
				if err != nil || !keyMatches(p, c) {
					continue
				}
				if r.Sealed, err = k.sealX509Key(r.Fingerprint, p); err != nil {
					return err
				}
				r.Secret = true
				recs = append(recs, r)
				found = true
				break
			}
			if !found {
				return fmt.Errorf("%w: the private key matches no certificate in the input or the keyring", ErrRefused)
			}
		}
		for _, r := range recs {
			old, err := tx.Get(r.Fingerprint)
			switch {
			case errors.Is(err, ErrNotFound):
				r.Added = now
			case err != nil:
				return err
			default:
				r = merge(old, r)
			}
			r.Updated = now
			r.Trust = TrustVerified
			r.Secret = r.Sealed != nil
			if err := tx.Put(r); err != nil {
				return err
			}
			detail := fmt.Sprintf("%s %s %s", r.Scheme, r.Algorithm, strings.Join(r.Addresses, ","))
			if r.Secret {
				detail += " with secret key"
			}
			if err := tx.AppendAudit(AuditEntry{At: now, Actor: a.actor, Action: "import", Fingerprint: r.Fingerprint, Detail: strings.TrimSpace(detail)}); err != nil {
				return err
			}
			out = append(out, r.Entry)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (a *Admin) pgpImportRecord(e *openpgp.Entity, now time.Time, bind string, opts ImportOptions) (Record, error) {
	r, err := pgpRecord(e, now, a.k.opts.Subaddressing)
	if err != nil {
		return Record{}, err
	}
	if err := checkValidity(r.Entry, now, opts.AllowExpired); err != nil {
		return Record{}, err
	}
	if bind != "" {
		r.Addresses = appendUnique(r.Addresses, bind)
	}
	if len(r.Addresses) == 0 {
		return Record{}, fmt.Errorf("%w: OpenPGP key %s has no e-mail address in its user ids; give one with --address", ErrRefused, r.Fingerprint)
	}
	if hasSecret(e) {
		if err := unlock(e, opts.Passphrase); err != nil {
			return Record{}, err
		}
		if r.Sealed, err = a.k.sealPGPSecret(e); err != nil {
			return Record{}, err
		}
	}
	r.Trust, r.Source = TrustVerified, SourceImported
	return r, nil
}

func checkValidity(e Entry, now time.Time, allowExpired bool) error {
	if allowExpired {
		return nil
	}
	if !e.Expires.IsZero() && !now.Before(e.Expires) {
		what := "certificate"
		if e.Scheme == SchemePGP {
			what = "OpenPGP key"
		}
		return fmt.Errorf("%w: %s %s expired on %s; use --allow-expired to keep it for old mail", ErrRefused, what, e.Fingerprint, e.Expires.Format(time.DateOnly))
	}
	return nil
}

// merge combines a stored record with a newly imported one of the same fingerprint: the new
// public part (newer signatures), the secret part if either has it, every address, and a
// revocation that either knows.
func merge(old, nw Record) Record {
	r := nw
	r.Added = old.Added
	if r.Sealed == nil {
		r.Sealed = old.Sealed
		if r.Chain == nil {
			r.Chain = old.Chain
		}
	}
	for _, a := range old.Addresses {
		r.Addresses = appendUnique(r.Addresses, a)
	}
	if r.Revoked.IsZero() && !old.Revoked.IsZero() {
		r.Revoked = old.Revoked
		if r.Scheme == SchemePGP {
			r.Public = old.Public // keeps the revocation signature for export and WKD
		}
	}
	if old.Source == SourceGenerated {
		r.Source = old.Source
	}
	return r
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
