package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/certtest"
	"github.com/sealgate/sealgate/keys"
)

func TestImportOpenPGPFromGPG(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	es := tk.mustImport(t, fixture(t, "gpg-rsa-secret.asc"), keys.ImportOptions{})
	if len(es) != 1 || es[0].Fingerprint != fprGPGRSA || !es[0].Secret || es[0].Algorithm != "rsa3072" ||
		!slices.Equal(es[0].Addresses, []string{"rsa@keys.test"}) || es[0].Trust != keys.TrustVerified {
		t.Fatalf("rsa secret: %+v", es)
	}
	// A passphrase-protected secret key (binary) opens with the passphrase and is kept sealed.
	es = tk.mustImport(t, fixture(t, "gpg-ed-secret-pass.gpg"), keys.ImportOptions{Passphrase: []byte(edPassphrase)})
	if len(es) != 1 || es[0].Fingerprint != fprGPGEd || !es[0].Secret || es[0].Algorithm != "ed25519" {
		t.Fatalf("ed secret: %+v", es)
	}
	// Importing the public key again keeps the secret part.
	es = tk.mustImport(t, fixture(t, "gpg-ed-pub.asc"), keys.ImportOptions{})
	if !es[0].Secret {
		t.Fatal("re-import of the public key dropped the secret key")
	}

	// Lookups: case-insensitive domain, +tag.
	kr, err := tk.EncryptionKeysPGP(ctx, "RSA+lists@Keys.Test")
	if err != nil || len(kr) != 1 || kr[0].Fingerprint() != fprGPGRSA {
		t.Fatalf("EncryptionKeysPGP: %v %v", kr, err)
	}
	sk, err := tk.SigningKeyPGP(ctx, "ed@keys.test")
	if err != nil || sk.Fingerprint() != fprGPGEd || !sk.HasSecret() {
		t.Fatalf("SigningKeyPGP: %v", err)
	}
	if sk.Entity().PrivateKey.Encrypted {
		t.Fatal("signing key is still passphrase-locked")
	}
	dk, err := tk.DecryptionKeysPGP(ctx, "")
	if err != nil || len(dk) != 2 {
		t.Fatalf("DecryptionKeysPGP: %d %v", len(dk), err)
	}
	// By key id: every subkey id finds the key.
	for _, sub := range sk.Entity().Subkeys {
		got, err := tk.KeysByIDPGP(ctx, sub.PublicKey.KeyId)
		if err != nil || len(got) != 1 || got[0].Fingerprint() != fprGPGEd {
			t.Fatalf("KeysByIDPGP(%X): %v %v", sub.PublicKey.KeyId, got, err)
		}
	}
	if _, err := tk.SigningKeyPGP(ctx, "nobody@keys.test"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("SigningKeyPGP for unknown address: %v", err)
	}
}

func TestImportX509FromOpenSSL(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	// A DER certificate, then its PEM private key matched to it in a second import.
	es := tk.mustImport(t, fixture(t, "rsa.der"), keys.ImportOptions{})
	if len(es) != 1 || es[0].Fingerprint != fprX509RSA || es[0].Secret || es[0].Scheme != keys.SchemeSMIME ||
		es[0].Algorithm != "rsa2048" || !slices.Equal(es[0].Addresses, []string{"rsa@keys.test"}) {
		t.Fatalf("rsa.der: %+v", es)
	}
	es = tk.mustImport(t, fixture(t, "rsa-key.pem"), keys.ImportOptions{})
	if len(es) != 1 || es[0].Fingerprint != fprX509RSA || !es[0].Secret {
		t.Fatalf("rsa-key.pem: %+v", es)
	}
	// PKCS#12 (OpenSSL 3: PBES2, AES-256) with a passphrase.
	es = tk.mustImport(t, fixture(t, "ec.p12"), keys.ImportOptions{Passphrase: []byte(p12Passphrase)})
	if len(es) != 1 || es[0].Fingerprint != fprX509EC || !es[0].Secret || es[0].Algorithm != "ecdsa-p256" {
		t.Fatalf("ec.p12: %+v", es)
	}
	// PEM certificate and key in one input.
	both := append(fixture(t, "ed25519.pem"), fixture(t, "ed25519-key.pem")...)
	es = tk.mustImport(t, both, keys.ImportOptions{})
	if len(es) != 1 || es[0].Fingerprint != fprX509Ed || !es[0].Secret || es[0].Algorithm != "ed25519" {
		t.Fatalf("ed25519: %+v", es)
	}
	es = tk.mustImport(t, fixture(t, "ca.pem"), keys.ImportOptions{TrustAnchor: true})
	if len(es) != 1 || es[0].Fingerprint != fprX509CA || es[0].Scheme != keys.SchemeCA {
		t.Fatalf("ca: %+v", es)
	}

	certs, err := tk.Certificates(ctx, "RSA@KEYS.TEST")
	if err != nil || len(certs) != 1 {
		t.Fatalf("Certificates: %v %v", certs, err)
	}
	// Ed25519 cannot encrypt: it is a signing certificate only.
	if certs, _ := tk.Certificates(ctx, "ed@keys.test"); len(certs) != 0 {
		t.Fatal("an Ed25519 certificate was offered for encryption")
	}
	ck, err := tk.SigningCert(ctx, "ec@keys.test")
	if err != nil || ck.Key == nil || ck.Cert.SerialNumber == nil {
		t.Fatalf("SigningCert: %v", err)
	}
	// By issuer and serial, and by subject key identifier.
	got, err := tk.DecryptionKeyFor(ctx, keys.IssuerSerial{Issuer: certs[0].RawIssuer, Serial: certs[0].SerialNumber})
	if err != nil || !got.Cert.Equal(certs[0]) || got.Key == nil {
		t.Fatalf("DecryptionKeyFor: %v", err)
	}
	got, err = tk.DecryptionKeyBySKI(ctx, ck.Cert.SubjectKeyId)
	if err != nil || !got.Cert.Equal(ck.Cert) {
		t.Fatalf("DecryptionKeyBySKI: %v", err)
	}
	if _, err := tk.DecryptionKeyFor(ctx, keys.IssuerSerial{Issuer: certs[0].RawIssuer, Serial: big.NewInt(7)}); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("unknown serial: %v", err)
	}
	// The trust roots verify the imported certificates.
	roots, err := tk.TrustRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
		t.Fatalf("verify against TrustRoots: %v", err)
	}
}

func TestImportPKCS12WithChain(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	if _, err := tk.adm.Import(ctx, fixture(t, "rsa.p12"), keys.ImportOptions{Passphrase: []byte("wrong")}); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("wrong PKCS#12 passphrase: %v", err)
	}
	es := tk.mustImport(t, fixture(t, "rsa.p12"), keys.ImportOptions{Passphrase: []byte(p12Passphrase)})
	if len(es) != 1 || es[0].Fingerprint != fprX509RSA || !es[0].Secret {
		t.Fatalf("rsa.p12: %+v", es)
	}
	ck, err := tk.SigningCert(ctx, "rsa@keys.test")
	if err != nil || len(ck.Chain) != 1 || ck.Chain[0].Subject.CommonName != "Keys Test CA" {
		t.Fatalf("chain from PKCS#12: %+v %v", ck.Chain, err)
	}
}

// Bad input is refused with a clear message, and nothing at all is stored.
func TestImportRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	random := make([]byte, 512)
	rand.Read(random)
	random[0] = 0x99 // looks like an OpenPGP public key packet
	pub := fixture(t, "gpg-rsa-pub.asc")
	expiredCert, expiredKey := makeCert(t, "late@keys.test", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	noemail := fixture(t, "noemail.pem")
	cases := []struct {
		name string
		data []byte
		opts keys.ImportOptions
		want string
	}{
		{"random bytes", random, keys.ImportOptions{}, "not a usable OpenPGP key"},
		{"random text", []byte("hello, this is not a key\n"), keys.ImportOptions{}, "not an OpenPGP key, certificate"},
		{"empty", []byte("\n"), keys.ImportOptions{}, "empty"},
		{"truncated armor", pub[:len(pub)/2], keys.ImportOptions{}, "truncated"},
		{"damaged armor", bytes.Replace(pub, []byte("\n="), []byte("\nX="), 1), keys.ImportOptions{}, "OpenPGP"},
		{"expired OpenPGP key", fixture(t, "gpg-expired-pub.asc"), keys.ImportOptions{}, "expired"},
		{"expired certificate", expiredCert, keys.ImportOptions{}, "expired"},
		{"certificate without address", noemail, keys.ImportOptions{}, "no e-mail address"},
		{"OpenPGP key without address", fixture(t, "gpg-noaddress-pub.asc"), keys.ImportOptions{}, "no e-mail address"},
		{"secret key without passphrase", fixture(t, "gpg-ed-secret-pass.asc"), keys.ImportOptions{}, "passphrase"},
		{"secret key wrong passphrase", fixture(t, "gpg-ed-secret-pass.asc"), keys.ImportOptions{Passphrase: []byte("nope")}, "passphrase"},
		{"key without certificate", fixture(t, "rsa-key.pem"), keys.ImportOptions{}, "matches no certificate"},
		{"CA without --trust", fixture(t, "ca.pem"), keys.ImportOptions{}, "--trust"},
		{"--trust with an end-entity certificate", fixture(t, "rsa.pem"), keys.ImportOptions{TrustAnchor: true}, "not a CA"},
		{"--trust with an OpenPGP key", pub, keys.ImportOptions{TrustAnchor: true}, "CA certificates only"},
		{"bad --address", pub, keys.ImportOptions{Address: "not an address"}, "address"},
		// One good key and one bad one in the same input: neither is stored.
		{"good and expired together", append(append([]byte{}, pub...), fixture(t, "gpg-expired-pub.asc")...), keys.ImportOptions{}, "expired"},
		{"good certificate and expired one", append(append([]byte{}, fixture(t, "rsa.pem")...), expiredCert...), keys.ImportOptions{}, "expired"},
	}
	for _, c := range cases {
		_, err := tk.adm.Import(ctx, c.data, c.opts)
		if err == nil || !errors.Is(err, keys.ErrRefused) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.name, err, c.want)
		}
	}
	if es, _ := tk.List(ctx, ""); len(es) != 0 {
		t.Fatalf("refused input left entries: %+v", es)
	}
	if as, _ := tk.Audit(ctx); len(as) != 0 {
		t.Fatalf("refused input left audit entries: %+v", as)
	}

	// The escape hatches.
	es := tk.mustImport(t, fixture(t, "gpg-expired-pub.asc"), keys.ImportOptions{AllowExpired: true})
	if es[0].State(tk.Now()) != keys.StateExpired || es[0].Fingerprint != fprGPGExpired {
		t.Fatalf("expired key kept: %+v", es[0])
	}
	if kr, _ := tk.EncryptionKeysPGP(ctx, "old@keys.test"); len(kr) != 0 {
		t.Fatal("an expired key was chosen for encryption")
	}
	tk.mustImport(t, append(expiredCert, expiredKey...), keys.ImportOptions{AllowExpired: true})
	if cs, _ := tk.Certificates(ctx, "late@keys.test"); len(cs) != 0 {
		t.Fatal("an expired certificate was chosen for encryption")
	}
	if _, err := tk.SigningCert(ctx, "late@keys.test"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatal("an expired certificate was chosen for signing")
	}
	if cks, _ := tk.DecryptionCerts(ctx, "late@keys.test"); len(cks) != 1 {
		t.Fatal("an expired certificate is not available to decrypt old mail")
	}
	es = tk.mustImport(t, noemail, keys.ImportOptions{Address: "NoEmail@Keys.Test"})
	if !slices.Equal(es[0].Addresses, []string{"noemail@keys.test"}) {
		t.Fatalf("--address: %+v", es[0])
	}
}

// makeCert makes a self-issued ECDSA certificate for addr with the given validity, as PEM,
// with its PEM private key.
func makeCert(t testing.TB, addr string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	return certtest.New(t, certtest.Options{Emails: []string{addr}, NotBefore: notBefore, NotAfter: notAfter}).PEM(t)
}

func parseCertPEM(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLookupUsesConfiguredSubaddressRule: with the separator "-", rsa-lists@ uses rsa@'s key
// and rsa+lists@ is an address of its own; in other domains "-" never splits.
func TestLookupUsesConfiguredSubaddressRule(t *testing.T) {
	ctx := context.Background()
	tk := newKeyringWith(t, address.Subaddressing{Separator: "-", Domains: func(d string) bool { return d == "keys.test" }, Others: "+"})
	tk.mustImport(t, fixture(t, "gpg-rsa-pub.asc"), keys.ImportOptions{})
	for addr, want := range map[string]int{"RSA-lists@Keys.Test": 1, "rsa@keys.test": 1, "rsa+lists@keys.test": 0} {
		kr, err := tk.EncryptionKeysPGP(ctx, addr)
		if err != nil || len(kr) != want {
			t.Errorf("EncryptionKeysPGP(%s): %d keys, %v; want %d", addr, len(kr), err, want)
		}
	}
	tk.mustImport(t, fixture(t, "gpg-rsa-pub.asc"), keys.ImportOptions{Address: "rsa@other.test"})
	if kr, _ := tk.EncryptionKeysPGP(ctx, "rsa-x@other.test"); len(kr) != 0 {
		t.Error("rsa-x@other.test must not use rsa@other.test's key: \"-\" is only the local domains' separator")
	}
	if kr, _ := tk.EncryptionKeysPGP(ctx, "rsa+x@other.test"); len(kr) != 1 {
		t.Error("rsa+x@other.test uses rsa@other.test's key")
	}
}
