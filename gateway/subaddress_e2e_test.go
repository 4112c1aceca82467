package gateway_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

// dashSeparator configures "-" as the sub-address separator.
func dashSeparator(c *config.Config) { c.Addressing.SubaddressSeparator = "-" }

// TestE2EDashSubaddressKeepsEncryptionPolicy: with separator "-", mail to bob-x@ is bob's, so
// bob's inbound.encrypt=pgp applies: the stored copy is encrypted to bob's key.
func TestE2EDashSubaddressKeepsEncryptionPolicy(t *testing.T) {
	env, admin := securityEnv(t, dashSeparator)
	generatePGP(t, admin, "bob@localhost", keys.PGPOptions{})
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "pgp")
	const marker = "dash-subaddress-secret"
	mustMX(t, env, "x@outside.test", "bob-x@localhost", []byte("From: x@outside.test\r\nSubject: tagged\r\n\r\n"+marker+"\r\n"))
	got := env.Mailbox("bob@localhost", "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if bytes.Contains(got[0].Body, []byte(marker)) || !strings.Contains(fieldValue(got[0].Body, "Sealgate-Security"), "stored=pgp") {
		t.Fatalf("mail to bob-x@ was stored in plaintext:\n%s", got[0].Body)
	}
	// "+" is an ordinary character with "-" configured: bob+x@ is nobody.
	var se *smtp.SMTPError
	if err := mx(t, env, "x@outside.test", "bob+x@localhost", []byte("Subject: plus\r\n\r\nx\r\n")); !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("bob+x@ with separator \"-\": %v", err)
	}
}

// TestE2EDashSubaddressSenderAndBounce: with separator "-", alice may submit as alice-x@
// (envelope and From:) but not as alice+x@, and a bounce to alice-x@ reaches alice's INBOX.
func TestE2EDashSubaddressSenderAndBounce(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	peer.SetRcptReply("nobody@remote.test", 550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
	env := gatewaytest.Start(t, dashSeparator, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"remote.test": peer.Addr}
	})
	env.AddUser("alice@localhost", alicePW)
	send := func(from string, rcpt string) error {
		c := env.Submission("alice@localhost", alicePW)
		return c.SendMail(from, []string{rcpt}, strings.NewReader("From: "+from+"\r\nSubject: from "+from+"\r\n\r\nhi\r\n"))
	}
	var se *smtp.SMTPError
	if err := send("alice+x@localhost", "alice@localhost"); !errors.As(err, &se) || se.Code != 553 && se.Code != 550 {
		t.Fatalf("alice+x@ is not alice's with separator \"-\", yet: %v", err)
	}
	if err := send("alice-x@localhost", "nobody@remote.test"); err != nil {
		t.Fatalf("alice-x@ is alice's: %v", err)
	}
	eventually(t, "the bounce to alice-x@", func() bool { return len(env.Mailbox("alice@localhost", "INBOX")) == 1 })
	dsn := string(env.Mailbox("alice@localhost", "INBOX")[0].Body)
	if !strings.Contains(dsn, "Final-Recipient: rfc822; nobody@remote.test") || !strings.Contains(dsn, "Subject: from alice-x@localhost") {
		t.Fatalf("not the DSN of the message from alice-x@:\n%s", dsn)
	}
}
