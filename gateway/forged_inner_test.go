package gateway_test

import (
	"strings"
	"testing"

	"github.com/sealgate/sealgate/keys"
)

// A Sealgate-Security field inside the encrypted part is as forged as one outside: it does not
// survive decryption (the protected header fields are lifted into the message header).
func TestE2EForgedSecurityHeaderInsideEncryption(t *testing.T) {
	env, admin := securityEnv(t)
	g := gpgKnowing(t, gatewayPGPKey(t, admin, "bob@localhost", keys.PGPOptions{}))
	inner := "Content-Type: text/plain; protected-headers=\"v1\"\r\nSubject: wire the money\r\n" +
		"Sealgate-Security: received=pgp; decrypted=yes; signature=pass; signer=ceo@localhost; stored=plain\r\n" +
		"Authentication-Results: mx.example.test; dmarc=pass header.from=bank.test\r\n\r\nNow.\r\n"
	msg := rfc9788Message(g.encryptTo("bob@localhost", []byte(inner)))
	mustMX(t, env, "x@outside.test", "bob@localhost", msg)
	got := env.Mailbox("bob@localhost", "INBOX")[0].Body
	if n := fieldCount(got, "Sealgate-Security"); n != 1 || !strings.HasPrefix(fieldValue(got, "Sealgate-Security"), "received=pgp; decrypted=yes; signature=none") {
		t.Fatalf("forged header from inside kept (%d):\n%s", n, got)
	}
	if strings.Contains(string(got), "dmarc=pass header.from=bank.test") {
		t.Fatal("forged Authentication-Results with our authserv-id kept")
	}
}

// A From inside the ciphertext does not replace the From that mail authentication checked: the
// stored message keeps the outer From (once), next to the DMARC result that is about it.
func TestE2EProtectedFromDoesNotReplaceAuthenticatedFrom(t *testing.T) {
	env, admin := securityEnv(t)
	g := gpgKnowing(t, gatewayPGPKey(t, admin, "bob@localhost", keys.PGPOptions{}))
	inner := "Content-Type: text/plain; hp=\"cipher\"\r\nFrom: CEO <ceo@bank.test>\r\nSubject: wire the money\r\n\r\nNow.\r\n"
	mustMX(t, env, "carol@outside.test", "bob@localhost", rfc9788Message(g.encryptTo("bob@localhost", []byte(inner))))
	got := env.Mailbox("bob@localhost", "INBOX")[0].Body
	if fieldCount(got, "From") != 1 || fieldValue(got, "From") != "Carol <carol@outside.test>" || strings.Contains(string(got), "ceo@bank.test") {
		t.Fatalf("the protected From replaced the authenticated one:\n%s", got)
	}
	if fieldValue(got, "Subject") != "wire the money" {
		t.Errorf("Subject %q", fieldValue(got, "Subject"))
	}
}
