package gateway_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

// End-to-end tests of header protection (RFC 9788 and the legacy protected-headers="v1"):
// messages as Thunderbird (RNP) and Delta Chat write them, and as gpg and rnp encrypt them,
// arrive over SMTP; the gateway's own encrypted copies are read back by gpg and openssl.

// hpEnv is a gateway for the corpus' domains with user rcpt holding the secret key keyFile.
func hpEnv(t *testing.T, rcpt, keyFile string) *gatewaytest.Env {
	t.Helper()
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Domains = append(c.Domains, "openpgp.example", "example.net", "example.org")
	})
	// The corpus' senders are in these domains, now local: their SPF lets the test client
	// send as them.
	for _, d := range []string{"openpgp.example", "example.net", "example.org"} {
		env.DNS.Set(d+". TXT", "v=spf1 ip4:127.0.0.0/8 -all")
	}
	env.AddUser(rcpt, "pw-"+rcpt)
	if _, err := env.GW.Keyring().Admin("test").Import(context.Background(), readFile(t, keyFile), keys.ImportOptions{Address: rcpt}); err != nil {
		t.Fatal(err)
	}
	return env
}

// writeFile writes b to name in dir (a test's temporary directory) and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headerBlock is the header section of a message, unfolded into one line per field.
func headerBlock(msg []byte) []string {
	s := strings.ReplaceAll(string(msg), "\r\n", "\n")
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.NewReplacer("\n ", " ", "\n\t", " ").Replace(s)
	return strings.Split(s, "\n")
}

// fieldCount counts the fields called name in the header section of msg.
func fieldCount(msg []byte, name string) int {
	n := 0
	for _, l := range headerBlock(msg) {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			n++
		}
	}
	return n
}

// fieldValue is the value of the first field called name in the header section of msg,
// unfolded; "" when there is none.
func fieldValue(msg []byte, name string) string {
	for _, l := range headerBlock(msg) {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// checkOnce fails unless each named field appears exactly once in msg's header.
func checkOnce(t *testing.T, msg []byte, names ...string) {
	t.Helper()
	for _, n := range names {
		if c := fieldCount(msg, n); c != 1 {
			t.Errorf("%s appears %d times in the stored header:\n%s", n, c, strings.Join(headerBlock(msg), "\n"))
		}
	}
}

// pgpBlock is the armored OpenPGP message inside msg.
func pgpBlock(t *testing.T, msg []byte) []byte {
	t.Helper()
	s := string(msg)
	i := strings.Index(s, "-----BEGIN PGP MESSAGE-----")
	j := strings.Index(s, "-----END PGP MESSAGE-----")
	if i < 0 || j < i {
		t.Fatalf("no OpenPGP message in\n%s", msg)
	}
	return []byte(s[i : j+len("-----END PGP MESSAGE-----")])
}

// checkCiphertextCopy checks an encrypted copy stored with protected headers: the outer Subject
// is "...", hidden is nowhere in the stored bytes nor in any file of the data directory.
func checkCiphertextCopy(t *testing.T, env *gatewaytest.Env, stored []byte, hidden string) {
	t.Helper()
	if got := fieldValue(stored, "Subject"); got != "..." {
		t.Errorf("outer Subject of the encrypted copy is %q", got)
	}
	if bytes.Contains(stored, []byte(hidden)) {
		t.Errorf("the hidden Subject %q is in clear on the stored encrypted copy:\n%s", hidden, stored)
	}
	grepDataDir(t, env.Dir, []byte(hidden))
}

func TestE2EProtectedHeadersThunderbird(t *testing.T) {
	corpus := peertest.InteropCorpus(t)
	aliceKey := filepath.Join(corpus, "openpgp/keys/alice@openpgp.example-0xf231550c4f47e38e-secret.asc")
	for _, tc := range []struct {
		file, subject string
	}{
		// unsigned: the marked entity is the decrypted one.
		{"openpgp/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330.eml", "Unsigned Encrypted"},
		// signed, then encrypted: the marked entity is the signed part of a multipart/signed.
		{"openpgp/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml", "Signed Encrypted"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			msg := readFile(t, filepath.Join(corpus, tc.file))
			if fieldValue(msg, "Subject") != "..." {
				t.Fatalf("%s is not a message with protected headers", tc.file)
			}
			// Decrypted: the protected fields replace the outer ones.
			env := hpEnv(t, "alice@openpgp.example", aliceKey)
			mustMX(t, env, "bob@openpgp.example", "alice@openpgp.example", msg)
			got := env.Mailbox("alice@openpgp.example", "INBOX")[0].Body
			if !strings.HasPrefix(fieldValue(got, "Sealgate-Security"), "received=pgp; decrypted=yes") {
				t.Fatalf("not decrypted:\n%s", got)
			}
			checkOnce(t, got, "From", "To", "Subject", "Message-ID", "Date", "MIME-Version", "Content-Type")
			if s := fieldValue(got, "Subject"); s != tc.subject {
				t.Errorf("Subject %q, want %q", s, tc.subject)
			}
			if !bytes.Contains(got, []byte("Sundays are nothing without callaloo.")) {
				t.Errorf("body lost:\n%s", got)
			}

			// Decrypted and encrypted again at rest: the hidden Subject goes back inside.
			env = hpEnv(t, "alice@openpgp.example", aliceKey)
			setPolicy(t, env, "alice@openpgp.example", "inbound.encrypt", "pgp")
			mustMX(t, env, "bob@openpgp.example", "alice@openpgp.example", msg)
			stored := env.Mailbox("alice@openpgp.example", "INBOX")[0].Body
			if h := fieldValue(stored, "Sealgate-Security"); !strings.Contains(h, "decrypted=yes") || !strings.HasSuffix(h, "stored=pgp") {
				t.Fatalf("Sealgate-Security %q", h)
			}
			checkOnce(t, stored, "From", "To", "Subject")
			checkCiphertextCopy(t, env, stored, tc.subject)
		})
	}
}

func TestE2EProtectedHeadersDeltaChat(t *testing.T) {
	corpus := peertest.InteropCorpus(t)
	bobKey := filepath.Join(corpus, "openpgp/keys/deltachat/bob-secret.asc")
	const hidden = "Message from alice@example.org"
	for _, tc := range []struct {
		file           string
		to, date, body string
	}{
		// protected-headers="v1" only.
		{"openpgp/eml/deltachat/text_from_alice_encrypted.eml", "<bob@example.net>", "Tue, 5 Aug 2025 11:07:50 +0000", "hi"},
		// RFC 9788: hp="cipher" with HP-Outer fields; the recipients are hidden outside
		// ("hidden-recipients": ;) and the Date differs inside.
		{"openpgp/eml/deltachat/alice_to_bob_no_intended_recipient_fingerprint.eml", "<bob@example.net>", "Mon, 23 Mar 2026 03:49:47 +0000", "Hi"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			msg := readFile(t, filepath.Join(corpus, tc.file))
			env := hpEnv(t, "bob@example.net", bobKey)
			mustMX(t, env, "alice@example.org", "bob@example.net", msg)
			got := env.Mailbox("bob@example.net", "INBOX")[0].Body
			if !strings.HasPrefix(fieldValue(got, "Sealgate-Security"), "received=pgp; decrypted=yes") {
				t.Fatalf("not decrypted:\n%s", got)
			}
			checkOnce(t, got, "From", "To", "Subject", "Date", "References", "Chat-Version", "Message-ID", "Content-Type")
			if s, to, date := fieldValue(got, "Subject"), fieldValue(got, "To"), fieldValue(got, "Date"); s != hidden || to != tc.to || date != tc.date {
				t.Errorf("Subject %q, To %q, Date %q: the protected fields must win", s, to, date)
			}
			if ct := fieldValue(got, "Content-Type"); strings.Contains(ct, "protected-headers") || strings.Contains(ct, "hp=") || fieldCount(got, "HP-Outer") != 0 {
				t.Errorf("the markers stay on the decrypted message:\n%s", got)
			}
			if !bytes.HasSuffix(bytes.TrimRight(got, "\r\n"), []byte("\n"+tc.body)) {
				t.Errorf("body lost:\n%s", got)
			}

			env = hpEnv(t, "bob@example.net", bobKey)
			setPolicy(t, env, "bob@example.net", "inbound.encrypt", "pgp")
			mustMX(t, env, "alice@example.org", "bob@example.net", msg)
			stored := env.Mailbox("bob@example.net", "INBOX")[0].Body
			checkOnce(t, stored, "From", "To", "Subject")
			checkCiphertextCopy(t, env, stored, hidden)
		})
	}
}

// rfc9788Inner is a Cryptographic Payload as RFC 9788 §4 composes it (hcp_baseline).
const rfc9788Inner = "Content-Type: text/plain; charset=utf-8; hp=\"cipher\"\r\n" +
	"From: Carol <carol@outside.test>\r\nTo: bob@localhost\r\nSubject: RFC 9788 hidden subject\r\n" +
	"Message-ID: <hp-1@outside.test>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n" +
	"HP-Outer: From: Carol <carol@outside.test>\r\nHP-Outer: To: bob@localhost\r\nHP-Outer: Subject: [...]\r\n" +
	"HP-Outer: Message-ID: <hp-1@outside.test>\r\nHP-Outer: Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n" +
	"\r\nBody under RFC 9788 header protection.\r\n"

func rfc9788Message(armored []byte) []byte {
	return []byte("From: Carol <carol@outside.test>\r\nTo: bob@localhost\r\nSubject: [...]\r\n" +
		"Message-ID: <hp-1@outside.test>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"hp\"\r\n\r\n" +
		"--hp\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--hp\r\nContent-Type: application/octet-stream\r\n\r\n" +
		strings.ReplaceAll(strings.ReplaceAll(string(armored), "\r\n", "\n"), "\n", "\r\n") + "\r\n--hp--\r\n")
}

// RFC 9788 messages encrypted by gpg, rnp and sq to a key the gateway made.
func TestE2EProtectedHeadersRFC9788(t *testing.T) {
	env, admin := securityEnv(t)
	pub := gatewayPGPKey(t, admin, "bob@localhost", keys.PGPOptions{})
	encrypters := map[string]func() []byte{
		"gpg": func() []byte {
			return gpgKnowing(t, pub).encryptTo("bob@localhost", []byte(rfc9788Inner))
		},
		"rnp": func() []byte {
			peertest.Require(t, "rnp")
			dir := t.TempDir()
			keyFile, in := filepath.Join(dir, "bob.asc"), filepath.Join(dir, "in.eml")
			os.WriteFile(keyFile, pub, 0o600)
			os.WriteFile(in, []byte(rfc9788Inner), 0o600)
			out, err := exec.Command("rnp", "--homedir", dir, "--keyfile", keyFile, "-e", "-r", "bob@localhost", "--armor", "--output", "-", in).CombinedOutput()
			if err != nil {
				t.Fatalf("rnp: %v\n%s", err, out)
			}
			return pgpBlock(t, out)
		},
	}
	encrypters["sq"] = func() []byte {
		peertest.Require(t, "sq")
		dir := t.TempDir()
		keyFile, in := filepath.Join(dir, "bob.asc"), filepath.Join(dir, "in.eml")
		os.WriteFile(keyFile, pub, 0o600)
		os.WriteFile(in, []byte(rfc9788Inner), 0o600)
		out, err := exec.Command("sq", "encrypt", "--recipient-cert", keyFile, in).CombinedOutput()
		if err != nil {
			t.Fatalf("sq: %v\n%s", err, out)
		}
		return pgpBlock(t, out)
	}
	for _, name := range []string{"gpg", "rnp", "sq"} {
		mustMX(t, env, "carol@outside.test", "bob@localhost", rfc9788Message(encrypters[name]()))
	}
	got := env.Mailbox("bob@localhost", "INBOX")
	if len(got) != 3 {
		t.Fatalf("bob has %d messages", len(got))
	}
	for i, m := range got {
		if !strings.HasPrefix(fieldValue(m.Body, "Sealgate-Security"), "received=pgp; decrypted=yes") {
			t.Fatalf("message %d not decrypted:\n%s", i, m.Body)
		}
		checkOnce(t, m.Body, "From", "To", "Subject", "Message-ID", "Date", "Content-Type")
		if s := fieldValue(m.Body, "Subject"); s != "RFC 9788 hidden subject" {
			t.Errorf("message %d: Subject %q", i, s)
		}
		if fieldCount(m.Body, "HP-Outer") != 0 || strings.Contains(fieldValue(m.Body, "Content-Type"), "hp=") {
			t.Errorf("message %d keeps the payload's markers:\n%s", i, m.Body)
		}
	}
}

// The gateway's own encrypted copies (at rest, OpenPGP and S/MIME) carry the protected
// header inside, as gpg and openssl read it, and "..." outside.
func TestE2EProtectedHeadersOwnOutput(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	generatePGP(t, admin, "bob@localhost", keys.PGPOptions{})
	generateSMIME(t, admin, "alice@localhost")
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "pgp")
	setPolicy(t, env, "alice@localhost", "inbound.encrypt", "smime")
	const hidden = "Quarterly numbers, do not share"
	msg := func(to string) []byte {
		return []byte("From: Carol <carol@outside.test>\r\nTo: " + to + "\r\nCc: dan@outside.test\r\nSubject: " + hidden +
			"\r\nMessage-ID: <own-1@outside.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe numbers.\r\n")
	}
	for _, to := range []string{"bob@localhost", "alice@localhost"} {
		mustMX(t, env, "carol@outside.test", to, msg(to))
	}
	pgpCopy := env.Mailbox("bob@localhost", "INBOX")[0].Body
	smimeCopy := env.Mailbox("alice@localhost", "INBOX")[0].Body
	for _, c := range [][]byte{pgpCopy, smimeCopy} {
		checkOnce(t, c, "From", "To", "Cc", "Subject", "Message-ID")
		checkCiphertextCopy(t, env, c, hidden)
	}
	checkInner := func(who string, inner []byte) {
		t.Helper()
		ct := fieldValue(inner, "Content-Type")
		if !strings.Contains(ct, `protected-headers="v1"`) || !strings.Contains(ct, `hp="cipher"`) {
			t.Errorf("%s: payload Content-Type %q", who, ct)
		}
		if fieldValue(inner, "Subject") != hidden || fieldValue(inner, "From") != "Carol <carol@outside.test>" || fieldValue(inner, "Cc") != "dan@outside.test" || fieldValue(inner, "Message-ID") != "<own-1@outside.test>" {
			t.Errorf("%s: protected fields missing:\n%s", who, inner)
		}
		outer := map[string]bool{}
		for _, l := range headerBlock(inner) {
			if v, ok := strings.CutPrefix(l, "HP-Outer: "); ok {
				outer[v] = true
			}
		}
		if !outer["Subject: ..."] || !outer["From: Carol <carol@outside.test>"] {
			t.Errorf("%s: HP-Outer fields %v", who, outer)
		}
	}

	sec, err := admin.ExportPGP(ctx, "bob@localhost", true)
	if err != nil {
		t.Fatal(err)
	}
	g := newGPG(t)
	g.run(sec, "--import")
	checkInner("gpg", g.run(pgpBlock(t, pgpCopy), "-q", "--decrypt"))

	dir := t.TempDir()
	aliceSecret, err := admin.ExportSMIME(ctx, "alice@localhost", true)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, in := filepath.Join(dir, "alice.pem"), filepath.Join(dir, "stored.eml")
	os.WriteFile(keyFile, aliceSecret, 0o600)
	os.WriteFile(in, smimeCopy, 0o600)
	checkInner("openssl", openssl(t, nil, "cms", "-decrypt", "-in", in, "-inkey", keyFile, "-recip", keyFile))

	// The gateway reads its own output back: each field once, the real Subject.
	for _, k := range []string{"bob", "alice"} {
		setPolicy(t, env, k+"@localhost", "inbound.encrypt", "none")
	}
	for _, c := range []struct {
		to     string
		stored []byte
	}{{"bob@localhost", pgpCopy}, {"alice@localhost", smimeCopy}} {
		mustMX(t, env, "carol@outside.test", c.to, c.stored[bytes.Index(c.stored, []byte("From: Carol")):])
		back := env.Mailbox(c.to, "INBOX")[1].Body
		if !strings.Contains(fieldValue(back, "Sealgate-Security"), "decrypted=yes") {
			t.Fatalf("%s: not decrypted:\n%s", c.to, back)
		}
		checkOnce(t, back, "From", "To", "Cc", "Subject", "Message-ID", "Content-Type")
		if fieldValue(back, "Subject") != hidden || fieldCount(back, "HP-Outer") != 0 || strings.Contains(fieldValue(back, "Content-Type"), "hp=") {
			t.Errorf("%s: read back:\n%s", c.to, back)
		}
	}
}

// Outbound encryption (OpenPGP, signed inside) protects the header too: the partner's MX
// sees "...", gpg finds the real Subject inside.
func TestE2EProtectedHeadersOutbound(t *testing.T) {
	peer, env, admin := partnerEnv(t)
	g := senderAndDave(t, admin, "alice@localhost")
	setPolicy(t, env, "alice@localhost", "outbound.sign", "pgp", "outbound.encrypt", "required")

	const hidden = "Merger talks, outbound"
	msg := "From: alice@localhost\r\nTo: dave@partner.test\r\nSubject: " + hidden + "\r\n\r\nDetails.\r\n"
	env.Submit("alice@localhost", "alice-pw-123", []string{"dave@partner.test"}, msg)
	peer.WaitReceived(t, 1)
	delivered := peer.Received()[0].Body
	if fieldValue(delivered, "Subject") != "..." || bytes.Contains(delivered, []byte(hidden)) {
		t.Fatalf("the Subject left in clear:\n%s", delivered)
	}
	checkOnce(t, delivered, "From", "To", "Subject")
	inner := g.run(pgpBlock(t, delivered), "-q", "--decrypt")
	if fieldValue(inner, "Subject") != hidden || !strings.Contains(fieldValue(inner, "Content-Type"), `hp="cipher"`) {
		t.Fatalf("gpg finds no protected header:\n%s", inner)
	}
}

// pgpKeyBlock is the armored key block of gpg's output (without its messages).
func pgpKeyBlock(out []byte) []byte {
	const end = "-----END PGP PUBLIC KEY BLOCK-----"
	return out[:bytes.Index(out, []byte(end))+len(end)]
}

// Legacy display elements (the protected fields repeated in the body for clients without
// header protection) are left out of the decrypted message, whose header now has them.
func TestE2EProtectedHeadersLegacyDisplay(t *testing.T) {
	env, admin := securityEnv(t)
	g := gpgKnowing(t, gatewayPGPKey(t, admin, "bob@localhost", keys.PGPOptions{}))
	inners := []string{
		// Enigmail and older Thunderbird: a text/rfc822-headers first part.
		"Content-Type: multipart/mixed; boundary=\"lg\"; protected-headers=\"v1\"\r\n" +
			"From: Carol <carol@outside.test>\r\nTo: bob@localhost\r\nSubject: RFC 9788 hidden subject\r\n\r\n" +
			"--lg\r\nContent-Type: text/rfc822-headers; protected-headers=\"v1\"\r\nContent-Disposition: inline\r\n\r\n" +
			"Subject: RFC 9788 hidden subject\r\n\r\n" +
			"--lg\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLegacy display body.\r\n--lg--\r\n",
		// RFC 9788 §4.5.3.1: header lines at the top of a text/plain body.
		"Content-Type: text/plain; charset=utf-8; hp=\"cipher\"; hp-legacy-display=\"1\"\r\n" +
			"From: Carol <carol@outside.test>\r\nTo: bob@localhost\r\nSubject: RFC 9788 hidden subject\r\n" +
			"HP-Outer: Subject: [...]\r\n\r\nSubject: RFC 9788 hidden subject\r\n\r\nLegacy display body.\r\n",
	}
	for _, inner := range inners {
		mustMX(t, env, "carol@outside.test", "bob@localhost", rfc9788Message(g.encryptTo("bob@localhost", []byte(inner))))
	}
	for i, m := range env.Mailbox("bob@localhost", "INBOX") {
		_, body, _ := strings.Cut(string(m.Body), "\r\n\r\n")
		if strings.Contains(body, "RFC 9788 hidden subject") || strings.Contains(body, "rfc822-headers") || !strings.Contains(body, "Legacy display body.") {
			t.Errorf("message %d: legacy display element kept:\n%s", i, m.Body)
		}
		checkOnce(t, m.Body, "From", "To", "Subject", "Content-Type")
		if fieldValue(m.Body, "Subject") != "RFC 9788 hidden subject" || strings.Contains(fieldValue(m.Body, "Content-Type"), "hp-legacy-display") {
			t.Errorf("message %d:\n%s", i, m.Body)
		}
	}
}

// Signed, then encrypted (S/MIME both): the protected header is in the signed part, under the
// signature (RFC 9788's innermost entity), the signature still verifies, and the gateway reads
// the header back from there.
func TestE2EProtectedHeadersSignedThenEncrypted(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	for _, u := range []string{"alice@localhost", "bob@localhost"} {
		if _, err := admin.GenerateSMIME(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	setPolicy(t, env, "alice@localhost", "outbound.sign", "smime")
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "smime", "inbound.decrypt", "false")
	const hidden = "Signed and sealed subject"
	msg := "From: alice@localhost\r\nTo: bob@localhost\r\nSubject: " + hidden + "\r\n\r\nSigned body.\r\n"
	env.Submit("alice@localhost", "alice-pw-123", []string{"bob@localhost"}, msg)
	stored := env.Mailbox("bob@localhost", "INBOX")[0].Body
	if h := fieldValue(stored, "Sealgate-Security"); !strings.HasSuffix(h, "stored=smime") {
		t.Fatalf("Sealgate-Security %q", h)
	}
	checkCiphertextCopy(t, env, stored, hidden)

	dir := t.TempDir()
	bobSecret, _ := admin.ExportSMIME(ctx, "bob@localhost", true)
	ca, err := env.GW.Keyring().CACertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, in, caFile := filepath.Join(dir, "bob.pem"), filepath.Join(dir, "stored.eml"), filepath.Join(dir, "ca.pem")
	os.WriteFile(keyFile, bobSecret, 0o600)
	os.WriteFile(in, stored, 0o600)
	os.WriteFile(caFile, pemCert(ca.Raw), 0o600)
	dec := openssl(t, nil, "cms", "-decrypt", "-in", in, "-inkey", keyFile, "-recip", keyFile)
	if mt := fieldValue(dec, "Content-Type"); !strings.HasPrefix(mt, "multipart/signed") || strings.Contains(mt, "hp=") || fieldCount(dec, "Subject") != 0 {
		t.Fatalf("decrypted entity: the protection belongs under the signature:\n%s", dec)
	}
	decFile := filepath.Join(dir, "dec.eml")
	os.WriteFile(decFile, dec, 0o600)
	signed := openssl(t, nil, "cms", "-verify", "-in", decFile, "-CAfile", caFile)
	if !bytes.Contains(signed, []byte("Subject: "+hidden)) || !bytes.Contains(signed, []byte(`hp="cipher"`)) || !bytes.Contains(signed, []byte("Signed body.")) {
		t.Fatalf("signed content:\n%s", signed)
	}

	// The gateway decrypts it: the Subject comes from under the signature.
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "none", "inbound.decrypt", "true")
	mustMX(t, env, "alice@localhost", "bob@localhost", dkimSignedLocal(t, env, stored[bytes.Index(stored, []byte("From: alice@localhost")):]))
	back := env.Mailbox("bob@localhost", "INBOX")[1].Body
	checkOnce(t, back, "From", "To", "Subject")
	if fieldValue(back, "Subject") != hidden || !strings.Contains(fieldValue(back, "Sealgate-Security"), "signature=pass") {
		t.Errorf("read back:\n%s", back)
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
