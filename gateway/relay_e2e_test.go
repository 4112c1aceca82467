package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/keys"
)

// Gateway mode end to end: corp.test is a relay domain whose next hop is a capture SMTP server
// that knows alice, bob and carol (550 for anyone else); a client on 127.0.0.2 is the
// organisation's own mail server (trusted network), 127.0.0.1 is the Internet.

const (
	internetIP = "127.0.0.1"
	internalIP = "127.0.0.2"
)

func relayEnv(t *testing.T, internal *deliverytest.Peer, mods ...func(*config.Config)) (*gatewaytest.Env, *keys.Admin) {
	t.Helper()
	env := gatewaytest.Start(t, append([]func(*config.Config){func(c *config.Config) {
		c.Relay.Domains = map[string]string{"corp.test": internal.Addr}
		c.Relay.TrustedNetworks = []string{internalIP + "/32"}
		c.Queue.MinBackoff = config.Duration{Duration: time.Second}
	}}, mods...)...)
	return env, env.GW.Keyring().Admin("test")
}

// sendFrom sends msg from the client address local through the MX listener.
func sendFrom(t *testing.T, env *gatewaytest.Env, local, from string, rcpts []string, msg string) error {
	t.Helper()
	c := wiretest.SMTPFrom(t, local, env.GW.Addr("smtp"))
	defer c.Close()
	return c.SendMail(from, rcpts, strings.NewReader(msg))
}

func wantSMTPCode(t *testing.T, err error, code int, enhanced smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enhanced {
		t.Fatalf("got %v, want %d %v", err, code, enhanced)
	}
}

// receivedBy returns what the peer got for rcpt, failing unless exactly n messages arrive.
func receivedBy(t *testing.T, p *deliverytest.Peer, rcpt string, n int) []deliverytest.Received {
	t.Helper()
	count := func(p *deliverytest.Peer) []deliverytest.Received {
		var out []deliverytest.Received
		for _, m := range p.Received() {
			for _, r := range m.To {
				if strings.EqualFold(r, rcpt) {
					out = append(out, m)
				}
			}
		}
		return out
	}
	p.Wait(20*time.Second, func(p *deliverytest.Peer) bool { return len(count(p)) >= n })
	got := count(p)
	if len(got) != n {
		t.Fatalf("%s received %d messages, want %d", rcpt, len(got), n)
	}
	return got
}

// pgpMIME is a PGP/MIME message (RFC 3156) from from to to with the armored OpenPGP message.
func pgpMIME(from, to string, armored []byte) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: pgp in\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b1\r\nContent-Type: application/octet-stream\r\n\r\n" +
		strings.ReplaceAll(string(armored), "\n", "\r\n") + "\r\n--b1--\r\n"
}

func TestE2ERelayInbound(t *testing.T) {
	internal := deliverytest.Start(t, deliverytest.Options{KnownRecipients: []string{"alice@corp.test", "bob@corp.test", "carol@corp.test", "dave@corp.test"}})
	env, admin := relayEnv(t, internal)
	ctx := context.Background()
	// Keys for relay-domain addresses, which have no accounts.
	gpg := gpgKnowing(t, gatewayPGPKey(t, admin, "alice@corp.test", keys.PGPOptions{}), gatewayPGPKey(t, admin, "bob@corp.test", keys.PGPOptions{}))
	generateSMIME(t, admin, "carol@corp.test")

	// WKD publishes the keys of relay-domain addresses as of local ones.
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/.well-known/openpgpkey/corp.test/hu/" + keys.WKDHash("alice") + "?l=alice", http.StatusOK},
		{"/.well-known/openpgpkey/corp.test/hu/" + keys.WKDHash("nobody") + "?l=nobody", http.StatusNotFound},
		{"/.well-known/openpgpkey/outside.test/hu/" + keys.WKDHash("alice") + "?l=alice", http.StatusNotFound},
	} {
		resp, err := http.Get("http://" + env.GW.Addr("http") + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}

	// Unknown users are refused at RCPT: the callout asks the internal server.
	err := sendFrom(t, env, internetIP, "sender@outside.test", []string{"ghost@corp.test"}, "Subject: x\r\n\r\nx\r\n")
	wantSMTPCode(t, err, 550, smtp.EnhancedCode{5, 1, 1})

	// A relay domain is ours: the Internet cannot send as one of its users, in the envelope
	// or in From:, without SPF or an aligned DKIM signature.
	env.DNS.Set("corp.test. TXT", "v=spf1 ip4:192.0.2.1 -all")
	env.DNS.Set("outside.test. TXT", "v=spf1 ip4:127.0.0.0/8 -all")
	err = sendFrom(t, env, internetIP, "alice@corp.test", []string{"bob@corp.test"}, "From: alice@corp.test\r\nSubject: x\r\n\r\nx\r\n")
	wantSMTPCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	err = sendFrom(t, env, internetIP, "x@outside.test", []string{"bob@corp.test"}, "From: Alice <alice@CORP.test>\r\nSubject: x\r\n\r\nx\r\n")
	wantSMTPCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})

	// 1. Plain mail with a forged result header: delivered with our one header.
	forged := "Sealgate-Security: received=pgp; decrypted=yes; signature=pass; signer=ceo@corp.test; stored=plain\r\n" +
		"From: sender@outside.test\r\nTo: alice@corp.test\r\nSubject: plain\r\n\r\nHello Alice.\r\n"
	if err := sendFrom(t, env, internetIP, "sender@outside.test", []string{"alice@corp.test"}, forged); err != nil {
		t.Fatal(err)
	}
	got := receivedBy(t, internal, "alice@corp.test", 1)[0]
	if got.From != "sender@outside.test" {
		t.Errorf("envelope sender %q", got.From)
	}
	if n := strings.Count(string(got.Body), "Sealgate-Security:"); n != 1 || fieldValue(got.Body, "Sealgate-Security") != "received=plain; signature=none; stored=plain" {
		t.Fatalf("forged header not replaced (%d headers):\n%s", n, got.Body)
	}
	if fieldValue(got.Body, "Sealgate-Trace") != "mx.example.test" || !strings.Contains(string(got.Body), "Authentication-Results: mx.example.test") {
		t.Fatalf("trace or Authentication-Results missing:\n%s", got.Body)
	}

	// 2. gpg encrypts to alice, whose key the gateway holds: the internal server gets plaintext.
	inner := "Content-Type: text/plain; charset=utf-8\r\n\r\nSecret for Alice from outside.\r\n"
	enc := pgpMIME("sender@outside.test", "alice@corp.test", gpg.encryptTo("alice@corp.test", []byte(inner)))
	if err := sendFrom(t, env, internetIP, "sender@outside.test", []string{"alice@corp.test"}, enc); err != nil {
		t.Fatal(err)
	}
	got = receivedBy(t, internal, "alice@corp.test", 2)[1]
	if h := fieldValue(got.Body, "Sealgate-Security"); h != "received=pgp; decrypted=yes; signature=none; stored=plain" || !bytes.Contains(got.Body, []byte("Secret for Alice from outside.")) {
		t.Fatalf("decrypt at the gateway: %q\n%s", h, got.Body)
	}

	// 3. bob's policy encrypts at the gateway: the internal server only sees ciphertext that
	// gpg opens with bob's key; carol's does it with S/MIME, opened by openssl.
	setPolicy(t, env, "bob@corp.test", "inbound.encrypt", "pgp")
	setPolicy(t, env, "carol@corp.test", "inbound.encrypt", "smime")
	const marker = "Relay-Plaintext-Never-Inside-4d1e"
	plain := "From: sender@outside.test\r\nTo: bob@corp.test, carol@corp.test\r\nSubject: encrypt me\r\n\r\n" + marker + "\r\n"
	if err := sendFrom(t, env, internetIP, "sender@outside.test", []string{"bob@corp.test", "carol@corp.test"}, plain); err != nil {
		t.Fatal(err)
	}
	bob := receivedBy(t, internal, "bob@corp.test", 1)[0]
	carol := receivedBy(t, internal, "carol@corp.test", 1)[0]
	for _, m := range []deliverytest.Received{bob, carol} {
		if bytes.Contains(m.Body, []byte(marker)) || len(m.To) != 1 {
			t.Fatalf("plaintext or a shared copy reached the internal server: %v\n%s", m.To, m.Body)
		}
	}
	if h := fieldValue(bob.Body, "Sealgate-Security"); h != "received=plain; signature=none; stored=pgp" {
		t.Fatalf("bob's copy: %q", h)
	}
	bobSecret, _ := admin.ExportPGP(ctx, "bob@corp.test", true)
	gpg.run(bobSecret, "--import")
	if out := gpg.run(pgpBlock(t, bob.Body), "--decrypt"); !bytes.Contains(out, []byte(marker)) {
		t.Fatalf("gpg cannot read bob's copy:\n%s", out)
	}
	dir := t.TempDir()
	carolSecret, _ := admin.ExportSMIME(ctx, "carol@corp.test", true)
	carolCert, _ := admin.ExportSMIME(ctx, "carol@corp.test", false)
	os.WriteFile(filepath.Join(dir, "carol.key"), carolSecret, 0o600)
	os.WriteFile(filepath.Join(dir, "carol.pem"), carolCert, 0o600)
	os.WriteFile(filepath.Join(dir, "carol.eml"), carol.Body, 0o600)
	if out := openssl(t, nil, "cms", "-decrypt", "-in", filepath.Join(dir, "carol.eml"), "-recip", filepath.Join(dir, "carol.pem"), "-inkey", filepath.Join(dir, "carol.key")); !bytes.Contains(out, []byte(marker)) {
		t.Fatalf("openssl cannot read carol's copy:\n%s", out)
	}
	grepDataDir(t, env.Dir, []byte(marker))

	// 4. encryption at the gateway for a user without a key refuses the message at DATA.
	setPolicy(t, env, "dave@corp.test", "inbound.encrypt", "pgp")
	err = sendFrom(t, env, internetIP, "sender@outside.test", []string{"dave@corp.test"}, plain)
	wantSMTPCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	eventually(t, "queue empty", queueEmpty(t, env))
	if n := len(internal.Received()); n != 4 {
		t.Fatalf("the internal server got %d messages, want 4", n)
	}
}

func TestE2ERelayOutboundFromTrustedNetwork(t *testing.T) {
	partner := deliverytest.Start(t, deliverytest.Options{})
	internal := deliverytest.Start(t, deliverytest.Options{KnownRecipients: []string{"alice@corp.test"}})
	env, admin := relayEnv(t, internal, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"partner.test": partner.Addr}
	})
	gpg := senderAndDave(t, admin, "alice@corp.test")
	dkimRecord := dkimKey(t, env, "corp.test")
	setPolicy(t, env, "alice@corp.test", "outbound.sign", "pgp", "outbound.encrypt", "required")

	const marker = "Outbound-Relay-Secret-For-Dave"
	msg := "From: Alice <alice@corp.test>\r\nTo: dave@partner.test\r\nSubject: for dave\r\nMessage-ID: <1@corp.test>\r\n" +
		"Sealgate-Security: received=plain; signature=none; stored=plain\r\n\r\n" + marker + "\r\n"
	// The Internet may not relay, not even with one of our senders.
	err := sendFrom(t, env, internetIP, "alice@corp.test", []string{"dave@partner.test"}, msg)
	wantSMTPCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	// The internal server may not relay for a foreign sender.
	err = sendFrom(t, env, internalIP, "someone@elsewhere.test", []string{"dave@partner.test"}, msg)
	wantSMTPCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	// erin has no key and encryption is required: refused at DATA, nothing sent.
	err = sendFrom(t, env, internalIP, "alice@corp.test", []string{"dave@partner.test", "erin@partner.test"}, msg)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) || !strings.Contains(se.Message, "erin@partner.test") {
		t.Fatalf("required without a key: %v", err)
	}
	if err := sendFrom(t, env, internalIP, "alice@corp.test", []string{"dave@partner.test"}, msg); err != nil {
		t.Fatal(err)
	}
	// The internal server's bounces (null sender) go out too.
	if err := sendFrom(t, env, internalIP, "", []string{"frank@partner.test"}, "From: MAILER-DAEMON@corp.test\r\nSubject: bounce\r\n\r\nundeliverable\r\n"); err != nil {
		t.Fatal(err)
	}
	delivered := receivedBy(t, partner, "dave@partner.test", 1)[0].Body
	receivedBy(t, partner, "frank@partner.test", 1)
	if bytes.Contains(delivered, []byte(marker)) {
		t.Fatal("plaintext left the gateway")
	}
	if bytes.Contains(delivered, []byte("Sealgate-Security")) {
		t.Fatalf("internal header left the gateway:\n%s", delivered)
	}
	if !strings.HasPrefix(fieldValue(delivered, "Autocrypt"), "addr=alice@corp.test;") {
		t.Fatalf("no Autocrypt header for alice:\n%s", delivered)
	}
	gpg.checkSignedAndEncrypted(delivered, marker, "alice@corp.test")
	dkimVerify(t, delivered, "sel1._domainkey.corp.test.", dkimRecord)
}

// dkimKey makes the DKIM key (selector sel1) that signs domain's mail at env and returns its
// TXT record.
func dkimKey(t *testing.T, env *gatewaytest.Env, domain string) string {
	t.Helper()
	rec, err := (&mailauth.DKIMKeys{Files: keys.DirFiles{Dir: env.Dir}, MasterKey: mustMaster(t, env)}).Generate(domain, "sel1")
	if err != nil {
		t.Fatal(err)
	}
	return rec.Value
}

// dkimVerify checks the DKIM signature of msg with dkimpy, an independent verifier, given the
// TXT record of name.
func dkimVerify(t *testing.T, msg []byte, name, record string) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, _, err := peertest.Run(t, nil, nil, py, "-c", "import dkim"); err != nil {
		peertest.Missing(t, "python3-dkim (dkimpy)")
	}
	script := `import sys, dkim
rec = open(sys.argv[2], "rb").read()
msg = open(sys.argv[1], "rb").read()
def dns(name, timeout=5):
    return rec if name == sys.argv[3].encode() else None
print(dkim.verify(msg, dnsfunc=dns))`
	dir := t.TempDir()
	res, errOut, err := peertest.Run(t, nil, nil, py, writeFile(t, dir, "v.py", []byte(script)), writeFile(t, dir, "m.eml", msg),
		writeFile(t, dir, "rec", []byte(record)), name)
	if err != nil || strings.TrimSpace(string(res)) != "True" {
		t.Fatalf("dkimpy: %v %s%s\n%s", err, res, errOut, msg)
	}
}

// The next hop is down: the callout cannot tell, so the message is accepted and queued; it is
// delivered exactly once when the next hop is back.
func TestE2ERelayNextHopDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hop := ln.Addr().String()
	ln.Close()
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Relay.Domains = map[string]string{"corp.test": hop}
		c.Queue.MinBackoff = config.Duration{Duration: time.Second}
	})
	if err := sendFrom(t, env, internetIP, "sender@outside.test", []string{"alice@corp.test"}, "From: sender@outside.test\r\nSubject: while down\r\n\r\nqueued\r\n"); err != nil {
		t.Fatal(err)
	}
	q, err := env.Embedded().QueueEntries(t.Context())
	if err != nil || len(q) != 1 {
		t.Fatalf("queue: %v %v", q, err)
	}
	internal := deliverytest.Start(t, deliverytest.Options{Addr: hop, KnownRecipients: []string{"alice@corp.test"}})
	if _, err := env.Embedded().QueueFlush(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	receivedBy(t, internal, "alice@corp.test", 1)
	eventually(t, "queue empty", queueEmpty(t, env))
	if _, err := env.Embedded().QueueFlush(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	receivedBy(t, internal, "alice@corp.test", 1)
}

// A message that keeps coming back is refused, not looped.
func TestE2ERelayLoopRefused(t *testing.T) {
	internal := deliverytest.Start(t, deliverytest.Options{})
	env, _ := relayEnv(t, internal)
	// Three earlier passes through this gateway to the internal server.
	looped := strings.Repeat("Sealgate-Trace: mx.example.test\r\n", 3) + "From: a@corp.test\r\nSubject: loop\r\n\r\nround and round\r\n"
	err := sendFrom(t, env, internalIP, "a@corp.test", []string{"b@corp.test"}, looped)
	wantSMTPCode(t, err, 554, smtp.EnhancedCode{5, 4, 6})
	// Two passes (through another gateway's name too) are a legitimate path.
	ok := strings.Repeat("Sealgate-Trace: mx.example.test\r\n", 2) + "Sealgate-Trace: other.example\r\nFrom: a@corp.test\r\nSubject: twice\r\n\r\nok\r\n"
	if err := sendFrom(t, env, internalIP, "a@corp.test", []string{"b@corp.test"}, ok); err != nil {
		t.Fatal(err)
	}
	// Too many hops of any kind.
	hops := strings.Repeat("Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n", 51) + "Subject: far\r\n\r\nfar\r\n"
	err = sendFrom(t, env, internetIP, "x@outside.test", []string{"b@corp.test"}, hops)
	wantSMTPCode(t, err, 554, smtp.EnhancedCode{5, 4, 6})
	got := receivedBy(t, internal, "b@corp.test", 1)[0]
	if n := strings.Count(string(got.Body), "Sealgate-Trace: mx.example.test"); n != 3 {
		t.Fatalf("relayed copy carries %d traces of this gateway, want 3", n)
	}
}

// An authenticated user of the gateway's own mailboxes writes to a colleague in a relay
// domain: the copy gets the inbound treatment and goes to the internal server.
func TestE2ERelaySubmissionToRelayDomain(t *testing.T) {
	internal := deliverytest.Start(t, deliverytest.Options{KnownRecipients: []string{"carol@corp.test"}})
	env, _ := relayEnv(t, internal)
	env.AddUser("alice@localhost", alicePW)
	env.Submit("alice@localhost", alicePW, []string{"carol@corp.test"}, "From: alice@localhost\r\nTo: carol@corp.test\r\nSubject: hi\r\n\r\nhello carol\r\n")
	got := receivedBy(t, internal, "carol@corp.test", 1)[0]
	if got.From != "alice@localhost" || strings.Count(string(got.Body), "Sealgate-Security: received=plain; signature=none; stored=plain") != 1 {
		t.Fatalf("copy from %q:\n%s", got.From, got.Body)
	}
}
