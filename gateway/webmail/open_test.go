package webmail_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/keys"
)

// TestReadStoredEncrypted: a message the policy stores encrypted to alice's key, which the
// gateway holds, is opened for display (and says so); a message stored encrypted for bob,
// of whom the gateway holds no key, says that — and never shows another user's plaintext.
func TestReadStoredEncrypted(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.GW.Keyring().Admin("test").GeneratePGP(ctx, alice, keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.GW.Store().SetPolicy(ctx, alice, map[string]string{"inbound.encrypt": "pgp", "inbound.decrypt": "false"}); err != nil {
		t.Fatal(err)
	}
	const secret = "stored-encrypted-plaintext-4711"
	e.deliver(t, "x@outside.test", alice, "From: x@outside.test\nSubject: at rest\n\n"+secret+"\n")
	if got := e.Mailbox(alice, "INBOX"); len(got) != 1 || bytes.Contains(got[0].Body, []byte(secret)) {
		t.Fatalf("alice's copy is not stored encrypted: %v", got)
	}
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	page := a.get("/mail/read?box=INBOX&uid=1")
	if !strings.Contains(page.body, secret) || !strings.Contains(page.body, "opened it for display with your key") || strings.Contains(page.body, "holds no key") {
		t.Fatalf("alice's message, stored encrypted to a key the gateway holds, is not opened:\n%s", page.body)
	}

	// To bob, of whom the gateway holds no key: a message encrypted to alice's key.
	ring, err := e.GW.Keyring().EncryptionKeysPGP(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	if err := pgpmime.Encrypt(&enc, strings.NewReader("From: x@outside.test\r\nSubject: not for bob\r\n\r\n"+secret+"\r\n"), pgpmime.EncryptOptions{Recipients: ring}); err != nil {
		t.Fatal(err)
	}
	e.deliver(t, "x@outside.test", bob, enc.String())
	b := e.browser(t)
	b.mustLogin(bob, bobPW)
	page = b.get("/mail/read?box=INBOX&uid=1")
	if strings.Contains(page.body, secret) || !strings.Contains(page.body, "the gateway holds no key of yours to open it") {
		t.Fatalf("bob's page:\n%s", page.body)
	}
	// Once the gateway holds a key of bob's that does not open it, the page says that instead.
	if _, err := e.GW.Keyring().Admin("test").GeneratePGP(ctx, bob, keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	page = b.get("/mail/read?box=INBOX&uid=1")
	if strings.Contains(page.body, secret) || !strings.Contains(page.body, "none of the keys the gateway holds for you opens it") {
		t.Fatalf("bob's page with a key that does not open it:\n%s", page.body)
	}
}

// TestComposeToDashSubaddress: with the separator "-", mail alice writes in web mail to
// bob-x@ is bob's and gets bob's inbound.encrypt=pgp; alice+x@ is nobody.
func TestComposeToDashSubaddress(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Addressing.SubaddressSeparator = "-" })
	ctx := context.Background()
	if _, err := e.GW.Keyring().Admin("test").GeneratePGP(ctx, bob, keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.GW.Store().SetPolicy(ctx, bob, map[string]string{"inbound.encrypt": "pgp", "inbound.decrypt": "false"}); err != nil {
		t.Fatal(err)
	}
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	const secret = "compose-dash-subaddress-secret"
	if r := a.sendForm(map[string]string{"to": "bob-x@example.test", "subject": "tagged", "body": secret}, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	got := e.Mailbox(bob, "INBOX")
	if len(got) != 1 || bytes.Contains(got[0].Body, []byte(secret)) {
		t.Fatalf("bob-x@ from web mail is not stored encrypted: %v", got)
	}
	r := a.sendForm(map[string]string{"to": "bob+x@example.test", "subject": "plus", "body": "x"}, nil)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no mailbox bob&#43;x@example.test") {
		t.Fatalf("bob+x@ with separator \"-\": %d %s", r.StatusCode, r.body)
	}
}

// TestReadCompressionBombBounded: a message stored encrypted to alice whose OpenPGP data
// decompresses to far more than web mail holds in memory is not opened; the page says why.
func TestReadCompressionBombBounded(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	// A key made by gpg: its preferences allow compression (a generated one's do not).
	secret, err := os.ReadFile(filepath.Join("..", "..", "testdata", "keys", "gpg-rsa-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.GW.Keyring().Admin("test").Import(ctx, secret, keys.ImportOptions{Address: alice}); err != nil {
		t.Fatal(err)
	}
	if err := e.GW.Store().SetPolicy(ctx, alice, map[string]string{"inbound.decrypt": "false"}); err != nil {
		t.Fatal(err)
	}
	ring, err := e.GW.Keyring().EncryptionKeysPGP(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	aw, err := armor.Encode(&ct, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := openpgp.Encrypt(aw, []*openpgp.Entity{ring[0].Entity()}, nil, nil, nil, &packet.Config{
		DefaultCompressionAlgo: packet.CompressionZLIB, CompressionConfig: &packet.CompressionConfig{Level: 9}})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(pw, "Content-Type: text/plain\r\n\r\n")
	zeros := make([]byte, 1<<20)
	for range 80 { // 80 MiB of plaintext, a few hundred KiB of ciphertext
		pw.Write(zeros)
	}
	pw.Close()
	aw.Close()
	msg := "From: x@outside.test\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + ct.String() + "\r\n--b--\r\n"
	e.deliver(t, "x@outside.test", alice, msg)
	a := e.browser(t)
	a.mustLogin(alice, alicePW)
	page := a.get("/mail/read?box=INBOX&uid=1")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "it is too large to open here") {
		t.Fatalf("compression bomb: %d\n%s", page.StatusCode, page.body)
	}
}
