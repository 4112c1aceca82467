package keys_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/keys"
)

// Keys made by gpg, imported, exported again: gpg takes the export back, the secret one
// without a passphrase, and can sign with it.
func TestGPGKeysRoundTrip(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	tk.mustImport(t, fixture(t, "gpg-rsa-secret.asc"), keys.ImportOptions{})
	tk.mustImport(t, fixture(t, "gpg-ed-secret-pass.asc"), keys.ImportOptions{Passphrase: []byte(edPassphrase)})
	for _, c := range []struct{ addr, fpr string }{{"rsa@keys.test", fprGPGRSA}, {"ed@keys.test", fprGPGEd}} {
		g := peertest.NewGPG(t)
		pub, err := tk.adm.ExportPGP(ctx, c.addr, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pub, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) || bytes.Contains(pub, []byte("PRIVATE")) {
			t.Fatalf("public export: %.60q", pub)
		}
		g.MustRun(pub, "--import")
		if got := fingerprints(g, false); !slices.Equal(got, []string{c.fpr}) {
			t.Fatalf("%s: gpg sees %v", c.addr, got)
		}
		sec, err := tk.adm.ExportPGP(ctx, c.addr, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(sec, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
			t.Fatalf("secret export: %.60q", sec)
		}
		g.MustRun(sec, "--import")
		if got := fingerprints(g, true); !slices.Equal(got, []string{c.fpr}) {
			t.Fatalf("%s: gpg secret keys %v", c.addr, got)
		}
		// No passphrase: gpg signs with an empty one, and decrypts what it encrypted.
		signed := g.MustRun([]byte("hello\n"), "--local-user", c.fpr, "--sign")
		g.MustRun(signed, "--verify")
		ct := g.MustRun([]byte("secret text\n"), "--recipient", c.fpr, "--encrypt")
		if pt := g.MustRun(ct, "--decrypt"); string(pt) != "secret text\n" {
			t.Fatalf("gpg decrypt: %q", pt)
		}
		// And the keyring's own decryption key opens what gpg encrypted.
		dk, err := tk.DecryptionKeysPGP(ctx, c.addr)
		if err != nil || len(dk) != 1 {
			t.Fatal(err)
		}
		if got := openPGPDecrypt(t, ct, dk); got != "secret text\n" {
			t.Fatalf("keyring decrypt: %q", got)
		}
	}
	// The audit log records both secret exports.
	as, _ := tk.Audit(ctx)
	n := 0
	for _, a := range as {
		if a.Action == "export-secret" && a.Actor == "test" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("audit log: %+v", as)
	}
}

// decryptPGP opens ct with the keyring's decryption keys of addr.
func (tk *testKeyring) decryptPGP(t testing.TB, addr string, ct []byte) string {
	t.Helper()
	dk, err := tk.DecryptionKeysPGP(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return openPGPDecrypt(t, ct, dk)
}

func openPGPDecrypt(t testing.TB, ct []byte, kr pgpmime.KeyRing) string {
	t.Helper()
	var el openpgp.EntityList
	for _, k := range kr {
		el = append(el, k.Entity())
	}
	r := io.Reader(bytes.NewReader(ct))
	if blk, err := armor.Decode(bytes.NewReader(ct)); err == nil {
		r = blk.Body
	}
	md, err := openpgp.ReadMessage(r, el, nil, nil)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	b, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Keys generated here: gpg 2.2 imports them, encrypts to them (the keyring decrypts) and
// verifies their signatures; the secret export imports into gpg too.
func TestGeneratedPGPKeysWithGPG(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	for _, algo := range []string{"ed25519", "rsa3072"} {
		addr := algo + "@gen.test"
		e, err := tk.adm.GeneratePGP(ctx, addr, keys.PGPOptions{Algorithm: algo})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Fingerprint) != 40 || e.Algorithm != algo || !e.Secret || e.Source != keys.SourceGenerated {
			t.Fatalf("generated: %+v", e)
		}
		g := peertest.NewGPG(t)
		pub, err := tk.adm.ExportPGP(ctx, addr, false)
		if err != nil {
			t.Fatal(err)
		}
		g.MustRun(pub, "--import")
		if got := fingerprints(g, false); !slices.Equal(got, []string{e.Fingerprint}) {
			t.Fatalf("gpg sees %v, want %s", got, e.Fingerprint)
		}
		uids := g.MustRun(nil, "--with-colons", "--list-keys", e.Fingerprint)
		if !strings.Contains(string(uids), "<"+addr+">") {
			t.Fatalf("user id: %s", uids)
		}
		if algo == "ed25519" && !strings.Contains(string(uids), ":22:") { // legacy EdDSA, algorithm 22
			t.Fatalf("v4 ed25519 key is not legacy EdDSA: %s", uids)
		}
		ct := g.MustRun([]byte("to the gateway\n"), "--armor", "--recipient", addr, "--encrypt")
		if got := tk.decryptPGP(t, addr, ct); got != "to the gateway\n" {
			t.Fatalf("decrypt gpg's message: %q", got)
		}
		signer, err := tk.SigningKeyPGP(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		var sig bytes.Buffer
		if err := openpgp.DetachSign(&sig, []*openpgp.Entity{signer.Entity()}, strings.NewReader("signed text\n"), nil); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		sigFile := writeFile(t, dir, "msg.sig", sig.Bytes())
		dataFile := writeFile(t, dir, "msg", []byte("signed text\n"))
		out, errOut, err := g.Run(nil, "--status-fd", "1", "--verify", sigFile, dataFile)
		if err != nil || !strings.Contains(string(out), "VALIDSIG "+e.Fingerprint) {
			t.Fatalf("gpg --verify: %v\n%s\n%s", err, out, errOut)
		}
		// gpg imports the secret export.
		sec, err := tk.adm.ExportPGP(ctx, addr, true)
		if err != nil {
			t.Fatal(err)
		}
		g.MustRun(sec, "--import")
		if got := fingerprints(g, true); !slices.Equal(got, []string{e.Fingerprint}) {
			t.Fatalf("gpg secret keys %v", got)
		}
	}
	// --v6: an RFC 9580 key with a 64-digit fingerprint that the keyring encrypts to.
	e, err := tk.adm.GeneratePGP(ctx, "six@gen.test", keys.PGPOptions{V6: true})
	if err != nil || len(e.Fingerprint) != 64 {
		t.Fatalf("v6: %+v %v", e, err)
	}
	if kr, err := tk.EncryptionKeysPGP(ctx, "six@gen.test"); err != nil || len(kr) != 1 || kr[0].Entity().PrimaryKey.Version != 6 {
		t.Fatalf("v6 encryption key: %v", err)
	}
}

// Certificates made by openssl, imported, exported again: openssl reads the export, and the
// exported key belongs to the exported certificate.
func TestOpenSSLCertificatesRoundTrip(t *testing.T) {
	peertest.Require(t, "openssl")
	ctx := context.Background()
	tk := newKeyring(t)
	tk.mustImport(t, fixture(t, "rsa.p12"), keys.ImportOptions{Passphrase: []byte(p12Passphrase)})
	tk.mustImport(t, fixture(t, "ec.pem"), keys.ImportOptions{})
	tk.mustImport(t, fixture(t, "ec-key.pem"), keys.ImportOptions{})
	tk.mustImport(t, append(fixture(t, "ed25519.pem"), fixture(t, "ed25519-key.pem")...), keys.ImportOptions{})
	dir := t.TempDir()
	for _, c := range []struct{ addr, fpr, md string }{{"rsa@keys.test", fprX509RSA, "sha256"}, {"ec@keys.test", fprX509EC, "sha256"}, {"ed@keys.test", fprX509Ed, ""}} {
		pub, err := tk.adm.ExportSMIME(ctx, c.addr, false)
		if err != nil {
			t.Fatal(err)
		}
		fp := mustOpenSSL(t, pub, "x509", "-noout", "-fingerprint", "-sha256")
		if got := strings.ReplaceAll(strings.TrimSpace(string(fp[strings.IndexByte(string(fp), '=')+1:])), ":", ""); got != c.fpr {
			t.Fatalf("%s: openssl fingerprint %s", c.addr, got)
		}
		sec, err := tk.adm.ExportSMIME(ctx, c.addr, true)
		if err != nil {
			t.Fatal(err)
		}
		blk, rest := pem.Decode(sec)
		if blk == nil || blk.Type != "PRIVATE KEY" || !bytes.Contains(rest, []byte("BEGIN CERTIFICATE")) {
			t.Fatalf("secret export is not PKCS#8 then certificate: %.80q", sec)
		}
		keyPub := mustOpenSSL(t, sec, "pkey", "-pubout")
		certPub := mustOpenSSL(t, pub, "x509", "-noout", "-pubkey")
		if !bytes.Equal(keyPub, certPub) {
			t.Fatalf("%s: exported key does not match the certificate", c.addr)
		}
		if c.md == "" {
			continue // OpenSSL 3.0's cms -sign cannot use Ed25519 keys ("invalid digest")
		}
		// openssl signs with the exported pair; the signature verifies against the test CA.
		bundle := writeFile(t, dir, "bundle.pem", sec)
		msg := writeFile(t, dir, "msg.txt", []byte("Content-Type: text/plain\r\n\r\nhello\r\n"))
		signed := mustOpenSSL(t, nil, "cms", "-sign", "-md", c.md, "-in", msg, "-signer", bundle, "-inkey", bundle)
		mustOpenSSL(t, signed, "cms", "-verify", "-CAfile", fixturePath("ca.pem"), "-purpose", "smimesign", "-out", os.DevNull)
	}
}

// Certificates issued by the built-in CA: openssl encrypts to them (the keyring decrypts)
// and verifies signatures made with them against the exported CA; openssl also signs with
// the exported key.
func TestGeneratedSMIMEWithOpenSSL(t *testing.T) {
	peertest.Require(t, "openssl")
	ctx := context.Background()
	tk := newKeyring(t)
	if _, err := tk.ExportCA(ctx); err == nil {
		t.Fatal("a CA exists before the first S/MIME certificate")
	}
	e, err := tk.adm.GenerateSMIME(ctx, "Carol@Gen.Test")
	if err != nil {
		t.Fatal(err)
	}
	if e.Algorithm != "rsa3072" || !slices.Equal(e.Addresses, []string{"carol@gen.test"}) || !e.Secret {
		t.Fatalf("generated: %+v", e)
	}
	e2, err := tk.adm.GenerateSMIME(ctx, "dave@gen.test")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := tk.ExportCA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := tk.List(ctx, "")
	cas := 0
	for _, x := range list {
		if x.Scheme == keys.SchemeCA {
			cas++
		}
	}
	if cas != 1 {
		t.Fatalf("%d CAs after two certificates", cas)
	}
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", caPEM)
	certPEM, err := tk.adm.ExportSMIME(ctx, "carol@gen.test", false)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, dir, "carol.pem", certPEM)
	mustOpenSSL(t, nil, "verify", "-CAfile", caFile, "-purpose", "smimeencrypt", certFile)
	text := mustOpenSSL(t, nil, "x509", "-in", certFile, "-noout", "-text")
	for _, want := range []string{"E-mail Protection", "email:carol@gen.test", "Public-Key: (3072 bit)", "Key Encipherment"} {
		if !strings.Contains(string(text), want) {
			t.Fatalf("certificate lacks %q:\n%s", want, text)
		}
	}

	// openssl encrypts to carol; the keyring's key decrypts.
	msg := writeFile(t, dir, "msg.txt", []byte("Subject: hi\r\nContent-Type: text/plain\r\n\r\nfor carol\r\n"))
	enc := mustOpenSSL(t, nil, "cms", "-encrypt", "-aes256", "-in", msg, certFile)
	cks, err := tk.DecryptionCerts(ctx, "carol@gen.test")
	if err != nil || len(cks) != 1 {
		t.Fatalf("DecryptionCerts: %v", err)
	}
	var out bytes.Buffer
	if _, err := smime.Decrypt(&out, bytes.NewReader(enc), cks[0].Cert, cks[0].Key, smime.DecryptOptions{}); err != nil {
		t.Fatalf("decrypt openssl's message: %v", err)
	}
	if !strings.Contains(out.String(), "for carol") {
		t.Fatalf("decrypted: %q", out.String())
	}

	// The keyring signs as carol; openssl verifies against the exported CA.
	ck, err := tk.SigningCert(ctx, "carol@gen.test")
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	if err := smime.Sign(&signed, strings.NewReader("From: carol@gen.test\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nsigned\r\n"),
		smime.SignOptions{Cert: ck.Cert, Key: ck.Key, Chain: ck.Chain}); err != nil {
		t.Fatal(err)
	}
	mustOpenSSL(t, signed.Bytes(), "cms", "-verify", "-CAfile", caFile, "-purpose", "smimesign", "-out", os.DevNull)

	// openssl signs with dave's exported key; the keyring's trust roots accept the signer.
	sec, err := tk.adm.ExportSMIME(ctx, e2.Fingerprint, true)
	if err != nil {
		t.Fatal(err)
	}
	bundle := writeFile(t, dir, "dave.pem", sec)
	osigned := mustOpenSSL(t, nil, "cms", "-sign", "-in", msg, "-signer", bundle, "-inkey", bundle)
	roots, err := tk.TrustRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := smime.Verify(nil, bytes.NewReader(osigned), smime.VerifyOptions{Roots: roots, MaxDateSkew: -1})
	if err != nil || res.Status != smime.StatusGood {
		t.Fatalf("verify openssl's signature with TrustRoots: %+v %v", res, err)
	}
	blk, _ := pem.Decode(caPEM)
	caCert, _ := x509.ParseCertificate(blk.Bytes)
	if !caCert.IsCA || caCert.Subject.CommonName != "Sealgate S/MIME CA" {
		t.Fatalf("CA: %v", caCert.Subject)
	}
}
