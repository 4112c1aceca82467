package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

// End-to-end tests of the policy engine: SMTP in, IMAP out, submission to a capture server,
// with gpg and openssl as the outside world.

// gpgHome is a throwaway GnuPG home; its agent is stopped when the test ends.
type gpgHome struct {
	t   *testing.T
	dir string
}

func newGPG(t *testing.T) *gpgHome {
	t.Helper()
	peertest.Require(t, "gpg")
	return &gpgHome{t: t, dir: peertest.GnuPGHome(t, "sg-gpg")}
}

// generatePGP makes an OpenPGP key for addr in the gateway's keyring.
func generatePGP(t testing.TB, admin *keys.Admin, addr string, opts keys.PGPOptions) {
	t.Helper()
	if _, err := admin.GeneratePGP(context.Background(), addr, opts); err != nil {
		t.Fatal(err)
	}
}

// gatewayPGPKey makes an OpenPGP key for addr in the gateway's keyring and returns its public
// half, armored, as a correspondent gets it.
func gatewayPGPKey(t testing.TB, admin *keys.Admin, addr string, opts keys.PGPOptions) []byte {
	t.Helper()
	generatePGP(t, admin, addr, opts)
	pub, err := admin.ExportPGP(context.Background(), addr, false)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// generateSMIME issues an S/MIME certificate from the gateway's CA for each address.
func generateSMIME(t *testing.T, admin *keys.Admin, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		if _, err := admin.GenerateSMIME(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

// gpgKnowing is a throwaway GnuPG home that has the public keys pubs.
func gpgKnowing(t *testing.T, pubs ...[]byte) *gpgHome {
	t.Helper()
	g := newGPG(t)
	for _, pub := range pubs {
		g.run(pub, "--import")
	}
	return g
}

// checkSignedAndEncrypted fails unless gpg decrypts the OpenPGP message in msg to text that
// holds marker, with a good signature by signer.
func (g *gpgHome) checkSignedAndEncrypted(msg []byte, marker, signer string) {
	g.t.Helper()
	dec := g.run(pgpBlock(g.t, msg), "--status-fd", "2", "--decrypt")
	if !bytes.Contains(dec, []byte(marker)) || !bytes.Contains(dec, []byte("GOODSIG")) || !bytes.Contains(dec, []byte(signer)) {
		g.t.Fatalf("gpg did not decrypt and verify:\n%s", dec)
	}
}

// encryptTo is the armored OpenPGP message gpg makes of msg for rcpt.
func (g *gpgHome) encryptTo(rcpt string, msg []byte) []byte {
	g.t.Helper()
	return pgpBlock(g.t, g.run(msg, "-a", "-e", "-r", rcpt))
}

// senderAndDave gives sender an OpenPGP key held by the gateway and dave@partner.test one of
// his own, made by gpg outside; the gpg home returned has both public keys, to read what
// sender sends dave.
func senderAndDave(t *testing.T, admin *keys.Admin, sender string) *gpgHome {
	t.Helper()
	g := gpgKnowing(t, gatewayPGPKey(t, admin, sender, keys.PGPOptions{}))
	g.outsideKey(admin, "Dave <dave@partner.test>", "dave@partner.test")
	return g
}

// outsideKey makes an OpenPGP key for uid in g (Ed25519 to sign, Cv25519 to encrypt), as a
// correspondent's own GnuPG would, and imports its public key into the gateway's keyring.
func (g *gpgHome) outsideKey(admin *keys.Admin, uid, addr string) {
	g.t.Helper()
	g.run(nil, "--quick-gen-key", uid, "ed25519", "sign", "never")
	var fpr string
	for _, l := range strings.Split(string(g.run(nil, "--with-colons", "--fingerprint", addr)), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			fpr = strings.Split(l, ":")[9]
			break
		}
	}
	g.run(nil, "--quick-add-key", fpr, "cv25519", "encr", "never")
	if _, err := admin.Import(context.Background(), pgpKeyBlock(g.run(nil, "--export", "-a", addr)), keys.ImportOptions{}); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gpgHome) run(stdin []byte, args ...string) []byte {
	g.t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", g.dir, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--trust-model", "always"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		g.t.Fatalf("gpg %v: %v\n%s", args, err, errb.String())
	}
	return append(out.Bytes(), errb.Bytes()...)
}

func openssl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	peertest.Require(t, "openssl")
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return out
}

// mx sends msg from from to to over the MX listener; the error is the server's refusal, if any.
func mx(t *testing.T, env *gatewaytest.Env, from, to string, msg []byte) error {
	t.Helper()
	return env.SendMX(from, []string{to}, string(msg))
}

// mustMX is mx for a message the MX listener must take.
func mustMX(t *testing.T, env *gatewaytest.Env, from, to string, msg []byte) {
	t.Helper()
	if err := mx(t, env, from, to, msg); err != nil {
		t.Fatal(err)
	}
}

// imapFetchAll reads every message of a user's INBOX over IMAP.
func imapFetchAll(t *testing.T, env *gatewaytest.Env, user, password string) [][]byte {
	t.Helper()
	return imapFetchMailbox(t, env, user, password, "INBOX")
}

// imapFetchMailbox reads every message of one of a user's mailboxes over IMAP.
func imapFetchMailbox(t *testing.T, env *gatewaytest.Env, user, password, mailbox string) [][]byte {
	t.Helper()
	c, err := imapclient.DialTLS(env.GW.Addr("imaps"), &imapclient.Options{TLSConfig: env.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6, 7, 8, 9), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		for _, b := range m.BodySection {
			out = append(out, b.Bytes)
		}
	}
	return out
}

// grepDataDir fails if needle is in any file under dir (database, WAL, blobs, spool).
func grepDataDir(t *testing.T, dir string, needle []byte) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, needle) {
			t.Errorf("plaintext found in %s", p)
		}
		return nil
	})
}

const bobPW = "bob-pw-123"

func securityEnv(t *testing.T, mods ...func(*config.Config)) (*gatewaytest.Env, *keys.Admin) {
	env := gatewaytest.Start(t, mods...)
	env.AddUser("bob@localhost", bobPW)
	env.AddUser("alice@localhost", "alice-pw-123")
	return env, env.GW.Keyring().Admin("test")
}

// partnerEnv is securityEnv whose mail for partner.test goes to the returned peer.
func partnerEnv(t *testing.T) (*deliverytest.Peer, *gatewaytest.Env, *keys.Admin) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	env, admin := securityEnv(t, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"partner.test": peer.Addr}
	})
	return peer, env, admin
}

func setPolicy(t *testing.T, env *gatewaytest.Env, scope string, kv ...string) {
	t.Helper()
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	if err := env.GW.Store().SetPolicy(context.Background(), scope, m); err != nil {
		t.Fatal(err)
	}
}

func TestE2EPGPInboundDecryptAndAtRest(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	gpg := gpgKnowing(t, gatewayPGPKey(t, admin, "bob@localhost", keys.PGPOptions{}))

	// 1. gpg encrypts a PGP/MIME message to bob: it arrives decrypted.
	inner := "Content-Type: text/plain; charset=utf-8\r\n\r\nSecret from the outside world.\r\n"
	msg := pgpMIME("sender@outside.test", "bob@localhost", gpg.encryptTo("bob@localhost", []byte(inner)))
	mustMX(t, env, "sender@outside.test", "bob@localhost", []byte(msg))
	// 2. plaintext to bob with inbound.encrypt=pgp is stored as PGP/MIME that gpg decrypts.
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "pgp", "inbound.decrypt", "false")
	const marker = "Plaintext-That-Must-Not-Touch-The-Disk-7f3a"
	mustMX(t, env, "sender@outside.test", "bob@localhost", []byte("From: sender@outside.test\r\nSubject: plain in\r\n\r\n"+marker+"\r\n"))
	// 3. the gpg message again, now that bob keeps ciphertext: stored byte-exact.
	mustMX(t, env, "sender@outside.test", "bob@localhost", []byte(msg))
	got := imapFetchAll(t, env, "bob@localhost", bobPW)
	if len(got) != 3 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if h := fieldValue(got[0], "Sealgate-Security"); h != "received=pgp; decrypted=yes; signature=none; stored=plain" || !bytes.Contains(got[0], []byte("Secret from the outside world.")) {
		t.Fatalf("gpg-encrypted message: %q\n%s", h, got[0])
	}
	if h := fieldValue(got[1], "Sealgate-Security"); h != "received=plain; signature=none; stored=pgp" || bytes.Contains(got[1], []byte(marker)) {
		t.Fatalf("at-rest message: %q", h)
	}
	sec, err := admin.ExportPGP(ctx, "bob@localhost", true)
	if err != nil {
		t.Fatal(err)
	}
	gpg.run(sec, "--import")
	// gpg decrypts the PGP/MIME part: the armored block of the stored message.
	if out := gpg.run(pgpBlock(t, got[1]), "--decrypt"); !bytes.Contains(out, []byte(marker)) {
		t.Fatalf("gpg cannot read the stored copy:\n%s", out)
	}
	if !bytes.HasSuffix(got[2], []byte(msg)) || fieldValue(got[2], "Sealgate-Security") != "received=pgp; decrypted=no; signature=none; stored=pgp" {
		t.Fatalf("already-encrypted message not stored byte-exact:\n%s", got[2])
	}
	grepDataDir(t, env.Dir, []byte(marker))
}

func TestE2ESMIMEInboundAndSignatures(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	generateSMIME(t, admin, "bob@localhost", "alice@localhost")
	dir := t.TempDir()
	bobCert, _ := admin.ExportSMIME(ctx, "bob@localhost", false)
	aliceSecret, _ := admin.ExportSMIME(ctx, "alice@localhost", true)
	bobPEM := writeFile(t, dir, "bob.pem", bobCert)
	alicePEM := writeFile(t, dir, "alice.pem", aliceSecret) // key followed by certificate

	// openssl encrypts to bob: it arrives decrypted.
	body := writeFile(t, dir, "body.txt", []byte("Secret via S/MIME.\r\n"))
	enc := openssl(t, nil, "cms", "-encrypt", "-aes256", "-in", body, "-text", "-from", "sender@outside.test", "-to", "bob@localhost", "-subject", "smime in", bobPEM)
	mustMX(t, env, "sender@outside.test", "bob@localhost", enc)
	// alice signs with openssl; bob gets a pass, and a tampered copy fails.
	signed := openssl(t, nil, "cms", "-sign", "-in", body, "-text", "-signer", alicePEM, "-from", "alice@localhost", "-to", "bob@localhost", "-subject", "signed")
	mustMX(t, env, "alice@localhost", "bob@localhost", dkimSignedLocal(t, env, signed))
	tampered := bytes.Replace(signed, []byte("Secret via S/MIME."), []byte("Secret via S/MIMF."), 1)
	mustMX(t, env, "alice@localhost", "bob@localhost", dkimSignedLocal(t, env, tampered))
	// Plaintext to bob with inbound.encrypt=smime: openssl decrypts the stored copy.
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "smime")
	const marker = "SMIME-Plaintext-Not-On-Disk-91c2"
	mustMX(t, env, "sender@outside.test", "bob@localhost", []byte("From: sender@outside.test\r\nSubject: at rest\r\n\r\n"+marker+"\r\n"))
	got := imapFetchAll(t, env, "bob@localhost", bobPW)
	if len(got) != 4 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if h := fieldValue(got[0], "Sealgate-Security"); h != "received=smime; decrypted=yes; signature=none; stored=plain" || !bytes.Contains(got[0], []byte("Secret via S/MIME.")) {
		t.Fatalf("openssl-encrypted: %q", h)
	}
	if h := fieldValue(got[1], "Sealgate-Security"); !strings.HasPrefix(h, "received=plain; signature=pass; signer=alice@localhost; key=") {
		t.Fatalf("signed: %q", h)
	}
	if ar := fieldValue(got[1], "Authentication-Results"); !strings.Contains(ar, "smime=pass body.smime-identifier=alice@localhost") {
		t.Fatalf("Authentication-Results %q", ar)
	}
	if h := fieldValue(got[2], "Sealgate-Security"); !strings.HasPrefix(h, "received=plain; signature=fail") {
		t.Fatalf("tampered: %q", h)
	}
	bobSecret, _ := admin.ExportSMIME(ctx, "bob@localhost", true)
	bobKey := writeFile(t, dir, "bob-secret.pem", bobSecret)
	stored := writeFile(t, dir, "stored.eml", got[3])
	if out := openssl(t, nil, "cms", "-decrypt", "-in", stored, "-recip", bobPEM, "-inkey", bobKey); !bytes.Contains(out, []byte(marker)) {
		t.Fatalf("openssl cannot read the stored copy:\n%s", out)
	}
	grepDataDir(t, env.Dir, []byte(marker))
}

func TestE2EForgedSecurityHeaderRemoved(t *testing.T) {
	env, _ := securityEnv(t)
	forged := "Sealgate-Security: received=pgp; decrypted=yes; signature=pass; signer=ceo@localhost; stored=plain\r\n" +
		"Authentication-Results: mx.example.test; dmarc=pass header.from=bank.test\r\n" +
		"From: ceo@outside.test\r\nSubject: wire the money\r\n\r\nNow.\r\n"
	mustMX(t, env, "x@outside.test", "bob@localhost", []byte(forged))
	got := imapFetchAll(t, env, "bob@localhost", bobPW)[0]
	if strings.Count(string(got), "Sealgate-Security:") != 1 || fieldValue(got, "Sealgate-Security") != "received=plain; signature=none; stored=plain" {
		t.Fatalf("forged header kept:\n%s", got)
	}
	if strings.Contains(string(got), "dmarc=pass header.from=bank.test") {
		t.Fatal("forged Authentication-Results with our authserv-id kept")
	}
}

func TestE2EOutboundEncryptSignDKIM(t *testing.T) {
	peer, env, admin := partnerEnv(t)
	gpg := senderAndDave(t, admin, "alice@localhost")
	dkimRecord := dkimKey(t, env, "localhost")
	setPolicy(t, env, "alice@localhost", "outbound.sign", "pgp", "outbound.encrypt", "required")

	c := env.Submission("alice@localhost", "alice-pw-123")
	const marker = "Outbound-Secret-For-Dave"
	msg := "From: alice@localhost\r\nTo: dave@partner.test\r\nSubject: for dave\r\n\r\n" + marker + "\r\n"
	// erin has no key: encryption is required, so the whole message is refused at DATA.
	err := c.SendMail("alice@localhost", []string{"dave@partner.test", "erin@partner.test"}, strings.NewReader(msg))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) || !strings.Contains(se.Message, "erin@partner.test") {
		t.Fatalf("required without a key: %v", err)
	}
	if err := c.SendMail("alice@localhost", []string{"dave@partner.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	peer.WaitReceived(t, 1)
	delivered := peer.Received()[0].Body
	if bytes.Contains(delivered, []byte(marker)) {
		t.Fatal("plaintext left the gateway")
	}
	gpg.checkSignedAndEncrypted(delivered, marker, "alice@localhost")
	// An independent DKIM verifier (dkimpy) checks the signature over the delivered bytes.
	dkimVerify(t, delivered, "sel1._domainkey.localhost.", dkimRecord)
}

func mustMaster(t *testing.T, env *gatewaytest.Env) *keys.MasterKey {
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(env.Dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}
