package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/keys"
)

// End-to-end verdicts with peers other than gpg and openssl's defaults: Sequoia (sq) and RNP
// (Thunderbird's OpenPGP library) inline signatures, OpenSSL RSA-PSS and certificate-less
// S/MIME signatures. Each verdict is checked against what the peer itself says.

// runPeer runs a peer program that must be installed (see peertest).
func runPeer(t *testing.T, stdin []byte, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	peertest.Require(t, name)
	return peertest.Run(t, nil, stdin, name, args...)
}

func crlf(b []byte) string {
	return strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n")
}

// An armored OpenPGP message that is only signed (sq sign, rnp --sign, gpg --sign) is
// signed-only mail: received=plain with the signature checked against the keyring, for a
// recipient with a key of their own and for one without.
func TestE2EInlineSignedOnlyOpenPGP(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	generatePGP(t, admin, "bob@localhost", keys.PGPOptions{})
	dir := t.TempDir()
	body := filepath.Join(dir, "body.txt")
	os.WriteFile(body, []byte("Signed, not encrypted.\n"), 0o600)

	type signed struct {
		peer, from string
		msg, cert  []byte
		peerSays   func(msg []byte) error
	}
	var cases []signed

	// Sequoia.
	peertest.MustRun(t, nil, "sq", "key", "generate", "--userid", "<carol@outside.test>", "--export", filepath.Join(dir, "carol.key"))
	carolCert := peertest.MustRun(t, nil, "sq", "key", "extract-cert", filepath.Join(dir, "carol.key"))
	os.WriteFile(filepath.Join(dir, "carol.cert"), carolCert, 0o600)
	cases = append(cases, signed{"sq", "carol@outside.test", peertest.MustRun(t, nil, "sq", "sign", "--signer-key", filepath.Join(dir, "carol.key"), body), carolCert,
		func(msg []byte) error {
			_, _, err := runPeer(t, msg, "sq", "verify", "--signer-cert", filepath.Join(dir, "carol.cert"))
			return err
		}})

	// RNP.
	rh, err := os.MkdirTemp("", "sg-rnp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rh) })
	peertest.MustRun(t, nil, "rnpkeys", "--homedir", rh, "--generate-key", "--userid", "Dave <dave@outside.test>", "--password", "")
	daveCert := peertest.MustRun(t, nil, "rnpkeys", "--homedir", rh, "--export-key", "dave@outside.test")
	cases = append(cases, signed{"rnp", "dave@outside.test", peertest.MustRun(t, nil, "rnp", "--homedir", rh, "--sign", "--armor", "--password", "", "--output", "-", body), daveCert,
		func(msg []byte) error {
			_, _, err := runPeer(t, msg, "rnp", "--homedir", rh, "--verify", "-")
			return err
		}})

	// GnuPG (its signed messages are compressed).
	g := newGPG(t)
	g.run(nil, "--quick-gen-key", "Erin <erin@outside.test>", "ed25519", "sign", "never")
	erinCert := g.run(nil, "--armor", "--export", "erin@outside.test")
	erinCert = erinCert[:bytes.Index(erinCert, []byte("-----END PGP PUBLIC KEY BLOCK-----"))+len("-----END PGP PUBLIC KEY BLOCK-----\n")]
	gsigned := g.run([]byte("Signed, not encrypted.\n"), "--armor", "--sign", "--local-user", "erin@outside.test")
	gsigned = gsigned[:bytes.Index(gsigned, []byte("-----END PGP MESSAGE-----"))+len("-----END PGP MESSAGE-----\n")]
	cases = append(cases, signed{"gpg", "erin@outside.test", gsigned, erinCert, func(msg []byte) error {
		out := g.run(msg, "--verify")
		if !bytes.Contains(out, []byte("Good signature")) {
			return errors.New(string(out))
		}
		return nil
	}})

	for _, c := range cases {
		if err := c.peerSays(c.msg); err != nil {
			t.Fatalf("%s does not verify its own message: %v", c.peer, err)
		}
		msg := []byte("From: " + c.from + "\r\nTo: bob@localhost, alice@localhost\r\nSubject: signed by " + c.peer + "\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + crlf(c.msg))
		// First with the signer unknown: the signature cannot be checked, which is no forgery.
		for _, rcpt := range []string{"bob@localhost", "alice@localhost"} {
			mustMX(t, env, c.from, rcpt, msg)
		}
		if _, err := admin.Import(ctx, c.cert, keys.ImportOptions{}); err != nil {
			t.Fatalf("%s key: %v", c.peer, err)
		}
		for _, rcpt := range []string{"bob@localhost", "alice@localhost"} {
			mustMX(t, env, c.from, rcpt, msg)
		}
	}
	for _, user := range []struct{ addr, pw string }{{"bob@localhost", bobPW}, {"alice@localhost", "alice-pw-123"}} {
		got := imapFetchAll(t, env, user.addr, user.pw)
		if len(got) != 2*len(cases) {
			t.Fatalf("%s has %d messages", user.addr, len(got))
		}
		for i, c := range cases {
			unknown, known := got[2*i], got[2*i+1]
			if h := fieldValue(unknown, "Sealgate-Security"); h != "received=plain; signature=unknown; stored=plain" {
				t.Errorf("%s, %s signer unknown: %q", user.addr, c.peer, h)
			}
			h := fieldValue(known, "Sealgate-Security")
			if !strings.HasPrefix(h, "received=plain; signature=pass; signer="+c.from+"; key=") || !strings.HasSuffix(h, "; stored=plain") {
				t.Errorf("%s, %s signer known: %q", user.addr, c.peer, h)
			}
			// Stored as it came: the peer still verifies the stored copy.
			stored := known[bytes.Index(known, []byte("-----BEGIN PGP MESSAGE-----")):]
			if err := c.peerSays(bytes.ReplaceAll(stored, []byte("\r\n"), []byte("\n"))); err != nil {
				t.Errorf("%s does not verify the stored copy: %v", c.peer, err)
			}
		}
	}
}

// S/MIME verdicts: a signature made without certificates verifies with the signer's
// certificate from the keyring (as `openssl cms -verify -certfile` does), an RSA-PSS
// signature verifies, an unknown signer is neither pass nor fail, and a recipient whose only
// certificate is PSS-restricted (it cannot be encrypted to) gets a permanent refusal when
// encryption at rest is required, never 451 forever.
func TestE2ESMIMEVerdicts(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	if _, err := admin.GenerateSMIME(ctx, "alice@localhost"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	aliceSecret, _ := admin.ExportSMIME(ctx, "alice@localhost", true)
	alicePEM := writeFile(t, dir, "alice.pem", aliceSecret)
	caPEM, _ := env.GW.Keyring().ExportCA(ctx)
	caPath := writeFile(t, dir, "ca.pem", caPEM)
	body := writeFile(t, dir, "body.txt", []byte("Signed S/MIME text.\r\n"))

	// 1. -nocerts by alice, whose certificate is in the keyring.
	nocerts := openssl(t, nil, "cms", "-sign", "-nocerts", "-in", body, "-text", "-signer", alicePEM, "-from", "alice@localhost", "-to", "bob@localhost", "-subject", "nocerts")
	if _, errOut, err := runPeer(t, nocerts, "openssl", "cms", "-verify", "-CAfile", caPath, "-certfile", alicePEM, "-out", os.DevNull); err != nil {
		t.Fatalf("openssl: %v\n%s", err, errOut)
	}
	// 2. RSA-PSS signer (a PSS-restricted key, its certificate issued by the test CA, which
	// is trusted).
	td := filepath.Join("..", "testdata", "crypto", "smime")
	if _, err := admin.Import(ctx, readFile(t, filepath.Join(td, "ca.pem")), keys.ImportOptions{TrustAnchor: true}); err != nil {
		t.Fatal(err)
	}
	pss := openssl(t, nil, "cms", "-sign", "-in", body, "-text", "-signer", filepath.Join(td, "pss.pem"), "-inkey", filepath.Join(td, "pss-key.pem"),
		"-from", "pss@sealgate.test", "-to", "bob@localhost", "-subject", "pss")
	// 3. -nocerts by a signer the keyring does not know.
	other := writeFile(t, dir, "other.pem", append(readFile(t, filepath.Join(td, "rsa-key.pem")), readFile(t, filepath.Join(td, "rsa.pem"))...))
	unknown := openssl(t, nil, "cms", "-sign", "-nocerts", "-in", body, "-text", "-signer", other, "-from", "rsa@sealgate.test", "-to", "bob@localhost", "-subject", "unknown")
	if _, _, err := runPeer(t, unknown, "openssl", "cms", "-verify", "-CAfile", filepath.Join(td, "ca.pem"), "-out", os.DevNull); err == nil {
		t.Fatal("openssl verifies a signature without its certificate")
	}
	// alice@localhost is a local sender: her mail from the MX needs an aligned DKIM signature.
	nocerts = dkimSignedLocal(t, env, nocerts)
	for _, m := range [][]byte{nocerts, pss, unknown} {
		mustMX(t, env, "sender@outside.test", "bob@localhost", m)
	}
	got := imapFetchAll(t, env, "bob@localhost", bobPW)
	if len(got) != 3 {
		t.Fatalf("bob has %d messages", len(got))
	}
	for i, want := range []struct{ sec, ar string }{
		{"received=plain; signature=pass; signer=alice@localhost; key=", "smime=pass body.smime-identifier=alice@localhost"},
		{"received=plain; signature=pass; signer=pss@sealgate.test; key=", "smime=pass body.smime-identifier=pss@sealgate.test"},
		{"received=plain; signature=unknown; stored=plain", "smime=neutral"},
	} {
		if h := fieldValue(got[i], "Sealgate-Security"); !strings.HasPrefix(h, want.sec) {
			t.Errorf("message %d: Sealgate-Security %q, want %q", i+1, h, want.sec)
		}
		if ar := fieldValue(got[i], "Authentication-Results"); !strings.Contains(ar, want.ar) {
			t.Errorf("message %d: Authentication-Results %q, want %q", i+1, ar, want.ar)
		}
	}

	// 4. carol's only certificate is PSS-restricted (self-signed, no key usage: nothing but
	// the key type says it cannot receive encrypted mail), and she requires encryption at rest.
	env.AddUser("carol@localhost", "carol-pw-123")
	key := writeFile(t, dir, "carol-key.pem", nil)
	cert := peertest.MustRun(t, nil, "openssl", "req", "-x509", "-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048", "-nodes", "-keyout", key,
		"-subj", "/CN=Carol/emailAddress=carol@localhost", "-days", "30", "-out", "-")
	if es, err := admin.Import(ctx, cert, keys.ImportOptions{}); err != nil || es[0].Algorithm != "rsa-pss2048" {
		t.Fatalf("PSS certificate: %v %+v", err, es)
	}
	if _, errOut, err := runPeer(t, nil, "openssl", "cms", "-encrypt", "-in", body, writeFile(t, dir, "carol.pem", cert)); err == nil {
		t.Fatalf("openssl encrypts to a PSS key:\n%s", errOut)
	}
	setPolicy(t, env, "carol@localhost", "inbound.encrypt", "smime")
	err := mx(t, env, "sender@outside.test", "carol@localhost", []byte("From: sender@outside.test\r\nSubject: plain\r\n\r\nhello\r\n"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("to a PSS-only recipient: %v, want 550 5.7.1", err)
	}
	if n := len(imapFetchAll(t, env, "carol@localhost", "carol-pw-123")); n != 0 {
		t.Fatalf("carol has %d messages", n)
	}
}

// Keys made by Sequoia and RNP in use: bob's sq key encrypts his mail at rest (sq decrypts the
// stored copy), and mail alice signs and must encrypt to dave's RNP key reaches the partner as
// a message rnp decrypts and whose signature rnp verifies.
func TestE2EOpenPGPPeersAtRestAndOutbound(t *testing.T) {
	peer, env, admin := partnerEnv(t)
	ctx := context.Background()
	dir := t.TempDir()

	// bob's key is Sequoia's.
	bobKey := filepath.Join(dir, "bob.key")
	peertest.MustRun(t, nil, "sq", "key", "generate", "--userid", "<bob@localhost>", "--export", bobKey)
	if _, err := admin.Import(ctx, peertest.MustRun(t, nil, "sq", "key", "extract-cert", bobKey), keys.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "pgp")
	const atRest = "At-Rest-For-Sequoia-5e1"
	mustMX(t, env, "sender@outside.test", "bob@localhost", []byte("From: sender@outside.test\r\nSubject: plain\r\n\r\n"+atRest+"\r\n"))
	got := imapFetchAll(t, env, "bob@localhost", bobPW)
	if len(got) != 1 || fieldValue(got[0], "Sealgate-Security") != "received=plain; signature=none; stored=pgp" || bytes.Contains(got[0], []byte(atRest)) {
		t.Fatalf("at rest: %d messages, %q", len(got), fieldValue(got[0], "Sealgate-Security"))
	}
	stored := string(got[0])
	block := stored[strings.Index(stored, "-----BEGIN PGP MESSAGE-----"):]
	block = block[:strings.Index(block, "-----END PGP MESSAGE-----")+25] + "\n"
	if plain := peertest.MustRun(t, []byte(block), "sq", "decrypt", "--recipient-key", bobKey); !bytes.Contains(plain, []byte(atRest)) {
		t.Fatalf("sq decrypted %q", plain)
	}
	grepDataDir(t, env.Dir, []byte(atRest))

	// dave's key is RNP's; alice signs with a key made here and must encrypt.
	rh, err := os.MkdirTemp("", "sg-rnp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rh) })
	peertest.MustRun(t, nil, "rnpkeys", "--homedir", rh, "--generate-key", "--userid", "Dave <dave@partner.test>", "--password", "")
	if _, err := admin.Import(ctx, peertest.MustRun(t, nil, "rnpkeys", "--homedir", rh, "--export-key", "dave@partner.test"), keys.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	alicePub := gatewayPGPKey(t, admin, "alice@localhost", keys.PGPOptions{})
	alicePath := filepath.Join(dir, "alice.asc")
	os.WriteFile(alicePath, alicePub, 0o600)
	peertest.MustRun(t, nil, "rnpkeys", "--homedir", rh, "--import", alicePath)
	setPolicy(t, env, "alice@localhost", "outbound.sign", "pgp", "outbound.encrypt", "required")
	const outbound = "Outbound-For-RNP-77d"
	env.Submit("alice@localhost", "alice-pw-123", []string{"dave@partner.test"}, "From: alice@localhost\r\nTo: dave@partner.test\r\nSubject: for dave\r\n\r\n"+outbound+"\r\n")
	peer.WaitReceived(t, 1)
	delivered := string(peer.Received()[0].Body)
	if strings.Contains(delivered, outbound) {
		t.Fatal("plaintext left the gateway")
	}
	block = delivered[strings.Index(delivered, "-----BEGIN PGP MESSAGE-----"):]
	block = block[:strings.Index(block, "-----END PGP MESSAGE-----")+25] + "\n"
	plain, errOut, err := runPeer(t, []byte(block), "rnp", "--homedir", rh, "--decrypt", "--password", "", "--output", "-")
	if err != nil || !bytes.Contains(plain, []byte(outbound)) || !bytes.Contains(errOut, []byte("Good signature")) {
		t.Fatalf("rnp --decrypt: %v %q\n%s", err, plain, errOut)
	}
}

// gpgsm's own self-signed certificate, imported by an operator, makes its signatures pass as
// gpgsm itself (with the certificate in its trust list) says; gpgsm leaves the certificate out
// of its signatures, so it comes from the keyring. Without the import the signature is unknown.
func TestE2EGPGSMSelfSignedSigner(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	peertest.Require(t, "gpgsm")
	home, err := os.MkdirTemp("", "sg-gsm")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("allow-loopback-pinentry\n"), 0o600)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	gpgsm := func(stdin []byte, args ...string) ([]byte, []byte) {
		t.Helper()
		pr, pw, _ := os.Pipe()
		pw.WriteString("\n")
		pw.Close()
		defer pr.Close()
		cmd := exec.Command("gpgsm", append([]string{"--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase-fd", "3",
			"--disable-crl-checks", "--disable-ocsp", "--status-fd", "2"}, args...)...)
		cmd.ExtraFiles = []*os.File{pr}
		cmd.Stdin = bytes.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("gpgsm %v: %v\n%s", args, err, e.Bytes())
		}
		return o.Bytes(), e.Bytes()
	}
	parm := filepath.Join(home, "gen.parm")
	os.WriteFile(parm, []byte("Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign, encrypt\nSerial: random\nName-DN: CN=Gina,O=Outside\nName-Email: gina@outside.test\n"), 0o600)
	cert, _ := gpgsm(nil, "--armor", "--gen-key", parm)
	gpgsm(cert, "--import")
	fpr, _ := gpgsm(nil, "--with-colons", "--list-keys", "gina@outside.test")
	for _, l := range strings.Split(string(fpr), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			os.WriteFile(filepath.Join(home, "trustlist.txt"), []byte(strings.Split(l, ":")[9]+" S relax\n"), 0o600)
			break
		}
	}
	content := "Content-Type: text/plain; charset=utf-8\r\n\r\nSigned by gpgsm.\r\n"
	sig, _ := gpgsm([]byte(content), "--detach-sign", "--local-user", "gina@outside.test")
	sigFile, dataFile := filepath.Join(home, "sig"), filepath.Join(home, "data")
	os.WriteFile(sigFile, sig, 0o600)
	os.WriteFile(dataFile, []byte(content), 0o600)
	if _, status := gpgsm(nil, "--verify", sigFile, dataFile); !bytes.Contains(status, []byte("[GNUPG:] GOODSIG")) || !bytes.Contains(status, []byte("[GNUPG:] TRUST_")) {
		t.Fatalf("gpgsm's verdict:\n%s", status)
	}
	msg := []byte("From: Gina <gina@outside.test>\r\nTo: bob@localhost\r\nSubject: from gpgsm\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\n" + content + "\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(sig) + "\r\n--b1--\r\n")
	mustMX(t, env, "gina@outside.test", "bob@localhost", msg)
	if _, err := admin.Import(ctx, cert, keys.ImportOptions{}); err != nil {
		t.Fatalf("gpgsm's certificate: %v", err)
	}
	mustMX(t, env, "gina@outside.test", "bob@localhost", msg)
	got := imapFetchAll(t, env, "bob@localhost", bobPW)
	if len(got) != 2 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if h := fieldValue(got[0], "Sealgate-Security"); h != "received=plain; signature=unknown; stored=plain" {
		t.Errorf("certificate not known: %q", h)
	}
	if h := fieldValue(got[1], "Sealgate-Security"); !strings.HasPrefix(h, "received=plain; signature=pass; signer=gina@outside.test; key=") {
		t.Errorf("certificate imported: %q", h)
	}
	if ar := fieldValue(got[1], "Authentication-Results"); !strings.Contains(ar, "smime=pass body.smime-identifier=gina@outside.test") {
		t.Errorf("Authentication-Results %q", ar)
	}
}
