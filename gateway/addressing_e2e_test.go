package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/keys"
)

func setAlias(t *testing.T, env *gatewaytest.Env, addr string, targets ...string) {
	t.Helper()
	key := addr
	if !strings.HasPrefix(addr, "@") {
		a, _ := address.Parse(addr)
		key = a.Key()
	}
	if err := env.Embedded().SetAlias(context.Background(), key, mailstore.Alias{Address: addr, Targets: targets}, addressing.CheckLoops); err != nil {
		t.Fatal(err)
	}
}

func TestE2EAddressing(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"elsewhere.test": peer.Addr, "outside.test": peer.Addr}
	})
	// The gateway made postmaster@localhost on start: it is the first account.
	env.AddUser("alice@localhost", "alice-pw-123")
	env.AddUser("bob@localhost", bobPW)
	ctx := context.Background()
	alice, _ := env.GW.Store().UserByAddress(ctx, mustParse("alice@localhost"))
	if _, err := env.Embedded().CreateMailbox(ctx, alice.ID, "lists", ""); err != nil {
		t.Fatal(err)
	}
	setAlias(t, env, "team@localhost", "alice@localhost", "bob@localhost", "inner@localhost")
	setAlias(t, env, "inner@localhost", "alice@localhost") // alice twice: one copy
	setAlias(t, env, "fwd@localhost", "friend@elsewhere.test")
	setAlias(t, env, "@example.test", "bob@localhost")

	send := func(from, to, subject string) error {
		return mx(t, env, from, to, []byte("From: "+from+"\r\nSubject: "+subject+"\r\n\r\nbody\r\n"))
	}
	for _, m := range [][3]string{
		{"x@outside.test", "team@localhost", "fan-out"},
		{"x@outside.test", "postmaster@localhost", "to postmaster"},
		{"x@outside.test", "Abuse@example.test", "to abuse"},
		{"x@outside.test", "alice+lists@localhost", "tagged"},
		{"x@outside.test", "alice+nosuch@localhost", "tag without folder"},
		{"x@outside.test", "whoever@example.test", "catch-all"},
		{"sender@outside.test", "fwd@localhost", "forwarded"},
	} {
		if err := send(m[0], m[1], m[2]); err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
	}
	subjects := func(user, mailbox string) string {
		var out []string
		for _, m := range env.Mailbox(user, mailbox) {
			out = append(out, fieldValue(m.Body, "Subject"))
		}
		return strings.Join(out, "|")
	}
	if got := subjects("alice@localhost", "INBOX"); got != "fan-out|tag without folder" {
		t.Errorf("alice INBOX: %s", got)
	}
	if got := subjects("alice@localhost", "lists"); got != "tagged" {
		t.Errorf("alice lists: %s", got)
	}
	if got := subjects("bob@localhost", "INBOX"); got != "fan-out|catch-all" {
		t.Errorf("bob INBOX: %s", got)
	}
	// abuse@ of another local domain goes to the administrator too: postmaster@ and abuse@
	// come before the domain's catch-all.
	if got := subjects("postmaster@localhost", "INBOX"); got != "to postmaster|to abuse" {
		t.Errorf("postmaster INBOX: %s", got)
	}

	// Forwarding: the partner gets the message with an SRS envelope sender.
	peer.WaitReceived(t, 1)
	fw := peer.Received()[0]
	if !strings.HasPrefix(fw.From, "SRS0=") || !strings.HasSuffix(fw.From, "=outside.test=sender@localhost") || fw.To[0] != "friend@elsewhere.test" {
		t.Fatalf("forwarded envelope: from %q to %v", fw.From, fw.To)
	}
	// A bounce to the SRS address goes back to the original sender, with the null sender.
	if err := env.SendMX("", []string{fw.From}, "From: MAILER-DAEMON@elsewhere.test\r\nSubject: bounce\r\n\r\nundeliverable\r\n"); err != nil {
		t.Fatalf("bounce to SRS address: %v", err)
	}
	peer.WaitReceived(t, 2)
	if b := peer.Received()[1]; b.From != "" || b.To[0] != "sender@outside.test" {
		t.Fatalf("bounce routed to %v from %q", b.To, b.From)
	}
	// A forged SRS address is unknown, not relayed.
	forged := strings.Replace(fw.From, "=outside.test=", "=victim.test=", 1)
	err := env.SendMX("", []string{forged}, "Subject: x\r\n\r\nx\r\n")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("forged SRS address: %v", err)
	}
}

func TestE2EAbuseWithoutConfigAndPolicyAfterExpansion(t *testing.T) {
	env, admin := securityEnv(t)
	// securityEnv made bob and alice after the postmaster account: abuse@ reaches postmaster.
	mustMX(t, env, "x@outside.test", "abuse@localhost", []byte("Subject: report\r\n\r\nspam\r\n"))
	if got := env.Mailbox("postmaster@localhost", "INBOX"); len(got) != 1 {
		t.Fatalf("postmaster has %d messages", len(got))
	}
	// One alias, two members with different policies: one encrypted and one plain copy.
	generatePGP(t, admin, "alice@localhost", keys.PGPOptions{})
	setPolicy(t, env, "alice@localhost", "inbound.encrypt", "pgp")
	setAlias(t, env, "pair@localhost", "alice@localhost", "bob@localhost")
	const marker = "alias-member-policy-check"
	mustMX(t, env, "x@outside.test", "pair@localhost", []byte("Subject: pair\r\n\r\n"+marker+"\r\n"))
	a := env.Mailbox("alice@localhost", "INBOX")
	b := env.Mailbox("bob@localhost", "INBOX")
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("alice %d, bob %d messages", len(a), len(b))
	}
	if bytes.Contains(a[0].Body, []byte(marker)) || fieldValue(a[0].Body, "Sealgate-Security") != "received=plain; signature=none; stored=pgp" {
		t.Fatalf("alice's copy is not encrypted:\n%s", a[0].Body)
	}
	if !bytes.Contains(b[0].Body, []byte(marker)) {
		t.Fatal("bob's copy is not plain")
	}
}

func mustParse(s string) address.Address {
	a, err := address.Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}
