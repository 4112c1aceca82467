package keys_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/keys"
)

// A self-signed certificate as gpgsm makes it (basicConstraints CA:TRUE, with an e-mail
// address and key usage for mail) is a user's certificate, not a CA: it imports, mail is
// encrypted to it, and gpgsm's PKCS#12 export of its key imports too.
func TestGPGSMSelfSignedCertificate(t *testing.T) {
	ctx := context.Background()
	g := peertest.NewGPGSM(t)
	certPEM := g.GenerateSelfSigned("Gpgsm User", "gsm@keys.test")
	if blk, _ := pem.Decode(certPEM); blk == nil {
		t.Fatalf("gpgsm --gen-key: %q", certPEM)
	} else if c, err := x509.ParseCertificate(blk.Bytes); err != nil || !c.IsCA {
		t.Fatalf("gpgsm's certificate: %v", err)
	}

	tk := newKeyring(t)
	es := tk.mustImport(t, certPEM, keys.ImportOptions{})
	if len(es) != 1 || es[0].Scheme != keys.SchemeSMIME || es[0].Algorithm != "rsa2048" || es[0].Addresses[0] != "gsm@keys.test" {
		t.Fatalf("imported %+v", es)
	}
	certs, err := tk.Certificates(ctx, "gsm@keys.test")
	if err != nil || len(certs) != 1 {
		t.Fatalf("encryption certificates: %v %d", err, len(certs))
	}
	var ct bytes.Buffer
	msg := "From: a@keys.test\r\nTo: gsm@keys.test\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nfor gpgsm\r\n"
	if err := smime.Encrypt(&ct, strings.NewReader(msg), smime.EncryptOptions{Recipients: certs}); err != nil {
		t.Fatal(err)
	}
	der := ct.Bytes()[bytes.Index(ct.Bytes(), []byte("\r\n\r\n"))+4:]
	der = mustOpenSSL(t, der, "base64", "-d")
	if plain := g.MustRun(der, "", "--decrypt"); !bytes.Contains(plain, []byte("for gpgsm")) {
		t.Fatalf("gpgsm decrypted %q", plain)
	}

	// gpgsm's own PKCS#12 export brings the key: the keyring then decrypts for gsm@keys.test.
	p12 := g.MustRun(nil, "p12 pass", "--export-secret-key-p12", "gsm@keys.test")
	es = tk.mustImport(t, p12, keys.ImportOptions{Passphrase: []byte("p12 pass")})
	if len(es) != 1 || !es[0].Secret {
		t.Fatalf("p12 import: %+v", es)
	}
	cks, err := tk.DecryptionCerts(ctx, "gsm@keys.test")
	if err != nil || len(cks) != 1 {
		t.Fatalf("decryption certs: %v", err)
	}
	var out bytes.Buffer
	if _, err := smime.Decrypt(&out, bytes.NewReader(ct.Bytes()), cks[0].Cert, cks[0].Key, smime.DecryptOptions{}); err != nil || !strings.Contains(out.String(), "for gpgsm") {
		t.Fatalf("Decrypt: %v", err)
	}

	// A real CA certificate is still refused without --trust.
	if _, err := tk.adm.Import(ctx, fixture(t, "ca.pem"), keys.ImportOptions{}); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Fatalf("CA certificate: %v", err)
	}
}

func pssFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "crypto", "smime", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An RSASSA-PSS certificate and key (made by openssl) import with their algorithm; the key
// signs (with PSS) and is never chosen to encrypt to, and the secret export gives OpenSSL the
// PSS key back.
func TestRSAPSSCertificateAndKey(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	es := tk.mustImport(t, pssFixture(t, "pss.pem"), keys.ImportOptions{})
	if len(es) != 1 || es[0].Algorithm != "rsa-pss2048" {
		t.Fatalf("certificate: %+v", es)
	}
	es = tk.mustImport(t, pssFixture(t, "pss-key.pem"), keys.ImportOptions{})
	if len(es) != 1 || !es[0].Secret || es[0].Algorithm != "rsa-pss2048" {
		t.Fatalf("key: %+v", es)
	}
	if certs, err := tk.Certificates(ctx, "pss@sealgate.test"); err != nil || len(certs) != 0 {
		t.Fatalf("a PSS key is offered for encryption: %v %d", err, len(certs))
	}
	ck, err := tk.SigningCert(ctx, "pss@sealgate.test")
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	msg := "From: pss@sealgate.test\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nsigned\r\n"
	if err := smime.Sign(&signed, strings.NewReader(msg), smime.SignOptions{Cert: ck.Cert, Key: ck.Key, Chain: ck.Chain}); err != nil {
		t.Fatal(err)
	}
	if printed := mustOpenSSL(t, signed.Bytes(), "cms", "-cmsout", "-print", "-inform", "SMIME"); !bytes.Contains(printed, []byte("signatureAlgorithm: \n          algorithm: rsassaPss")) {
		t.Fatalf("not signed with PSS:\n%s", printed)
	}
	sec, err := tk.adm.ExportSMIME(ctx, "pss@sealgate.test", true)
	if err != nil {
		t.Fatal(err)
	}
	if txt := mustOpenSSL(t, sec, "pkey", "-noout", "-text"); !bytes.Contains(txt, []byte("PSS parameter")) {
		t.Fatalf("exported key is not RSA-PSS:\n%.200s", txt)
	}
	keyPub := mustOpenSSL(t, sec, "pkey", "-pubout")
	certPub := mustOpenSSL(t, pssFixture(t, "pss.pem"), "x509", "-noout", "-pubkey")
	if !bytes.Equal(keyPub, certPub) {
		t.Fatal("exported key does not match the certificate")
	}

	// In PKCS#12 the PSS key is refused with a message that says what to do, and what it
	// says works: the PEM that `openssl pkcs12 -nodes` writes (after its "Bag Attributes").
	dir := t.TempDir()
	p12 := mustOpenSSL(t, nil, "pkcs12", "-export", "-in", writeFile(t, dir, "c.pem", pssFixture(t, "pss.pem")),
		"-inkey", writeFile(t, dir, "k.pem", pssFixture(t, "pss-key.pem")), "-passout", "pass:p")
	other := newKeyring(t)
	if _, err := other.adm.Import(ctx, p12, keys.ImportOptions{Passphrase: []byte("p")}); err == nil || !strings.Contains(err.Error(), "RSASSA-PSS") {
		t.Fatalf("PSS key in PKCS#12: %v", err)
	}
	nodes := mustOpenSSL(t, nil, "pkcs12", "-in", writeFile(t, dir, "k.p12", p12), "-passin", "pass:p", "-nodes")
	if es := other.mustImport(t, nodes, keys.ImportOptions{}); len(es) != 1 || !es[0].Secret || es[0].Algorithm != "rsa-pss2048" {
		t.Fatalf("openssl pkcs12 -nodes output: %+v", es)
	}
}

// keys export --pkcs12: OpenSSL 3 and NSS (Thunderbird's library) read both forms; GnuPG 2.2's
// gpgsm imports the 3DES form (it reads no PBES2) and signs with the key; the keyring takes its
// own export back.
func TestPKCS12Export(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	e, err := tk.adm.GenerateSMIME(ctx, "p12@keys.test")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := tk.adm.ExportSMIME(ctx, "p12@keys.test", false)
	certPub := mustOpenSSL(t, pub, "x509", "-noout", "-pubkey")
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		cipher keys.PKCS12Cipher
		gpgsm  bool
	}{{"3des", keys.PKCS12TripleDES, true}, {"aes256", keys.PKCS12AES256, false}} {
		t.Run(c.name, func(t *testing.T) {
			p12, err := tk.adm.ExportSMIMEPKCS12(ctx, "p12@keys.test", keys.PKCS12Options{Passphrase: []byte("export pass"), Cipher: c.cipher})
			if err != nil {
				t.Fatal(err)
			}
			f := writeFile(t, dir, c.name+".p12", p12)
			info, errOut, err := peertest.Run(t, nil, nil, "openssl", "pkcs12", "-in", f, "-passin", "pass:export pass", "-info", "-noout")
			if err != nil {
				t.Fatalf("openssl pkcs12: %v\n%s", err, errOut)
			}
			want := map[string]string{"3des": "pbeWithSHA1And3-KeyTripleDES-CBC", "aes256": "AES-256-CBC"}[c.name]
			if !bytes.Contains(append(info, errOut...), []byte(want)) {
				t.Fatalf("openssl pkcs12 -info lacks %s:\n%s%s", want, info, errOut)
			}
			keyPEM := mustOpenSSL(t, nil, "pkcs12", "-in", f, "-passin", "pass:export pass", "-nocerts", "-nodes")
			if got := mustOpenSSL(t, keyPEM, "pkey", "-pubout"); !bytes.Equal(got, certPub) {
				t.Fatal("PKCS#12 key does not match the certificate")
			}
			if _, _, err := peertest.Run(t, nil, nil, "openssl", "pkcs12", "-in", f, "-passin", "pass:wrong", "-noout"); err == nil {
				t.Fatal("openssl opens the file with a wrong passphrase")
			}
			// NSS, the library Thunderbird imports PKCS#12 with.
			peertest.Require(t, "pk12util")
			nss := filepath.Join(t.TempDir(), "nss")
			os.Mkdir(nss, 0o700)
			mustRun := func(name string, args ...string) []byte {
				out, errOut, err := peertest.Run(t, nil, nil, name, args...)
				if err != nil {
					t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, errOut)
				}
				return append(out, errOut...)
			}
			mustRun("certutil", "-N", "-d", "sql:"+nss, "--empty-password")
			if out := mustRun("pk12util", "-i", f, "-d", "sql:"+nss, "-W", "export pass"); !bytes.Contains(out, []byte("PKCS12 IMPORT SUCCESSFUL")) {
				t.Fatalf("pk12util: %s", out)
			}
			if out := mustRun("certutil", "-K", "-d", "sql:"+nss); !bytes.Contains(out, []byte("rsa")) {
				t.Fatalf("NSS holds no key after the import:\n%s", out)
			}
			back := newKeyring(t)
			if es := back.mustImport(t, p12, keys.ImportOptions{Passphrase: []byte("export pass")}); len(es) != 1 || es[0].Fingerprint != e.Fingerprint || !es[0].Secret {
				t.Fatalf("re-import: %+v", es)
			}

			g := peertest.NewGPGSM(t)
			caCert, err := tk.CACertificate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha1.Sum(caCert.Raw)
			g.Trust(strings.ToUpper(hex.EncodeToString(sum[:])))
			_, errOut, err = g.Run(p12, "export pass", "--import")
			imported := err == nil && bytes.Contains(errOut, []byte("IMPORT_RES")) && bytes.Contains(errOut, []byte("secret keys imported: 1"))
			if imported != c.gpgsm {
				t.Fatalf("gpgsm --import (want imported=%v): %v\n%s", c.gpgsm, err, errOut)
			}
			if c.gpgsm {
				content := writeFile(t, dir, "content", []byte("signed by gpgsm with the exported key\n"))
				// gpgsm protects the imported key with the passphrase it was given.
				g.MustRun(nil, "export pass", "--detach-sign", "--local-user", "p12@keys.test", "--output", filepath.Join(dir, "sig"), content)
			}
		})
	}
	as, _ := tk.Audit(ctx)
	n := 0
	for _, a := range as {
		if a.Action == "export-secret" && a.Fingerprint == e.Fingerprint {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("PKCS#12 exports audited %d times", n)
	}
}

// Only certificates whose key mail can be encrypted to are offered for encryption: an Ed25519
// certificate without key usage (as `openssl req -x509` makes it) signs only.
func TestSigningOnlyKeysNotOfferedForEncryption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cert := mustOpenSSL(t, nil, "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", filepath.Join(dir, "k.pem"),
		"-subj", "/CN=Ed/emailAddress=ed25519@keys.test", "-days", "3", "-out", "-")
	tk := newKeyring(t)
	if es := tk.mustImport(t, cert, keys.ImportOptions{}); len(es) != 1 || es[0].Algorithm != "ed25519" {
		t.Fatalf("imported %+v", es)
	}
	if certs, err := tk.Certificates(ctx, "ed25519@keys.test"); err != nil || len(certs) != 0 {
		t.Fatalf("an Ed25519 certificate is offered for encryption: %v %d", err, len(certs))
	}
	if certs, err := tk.VerificationCerts(ctx, "ed25519@keys.test"); err != nil || len(certs) != 1 {
		t.Fatalf("verification certificates: %v %d", err, len(certs))
	}
}
