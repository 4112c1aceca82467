package gateway_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/mailauth"
)

// authResultsFields returns the bodies of every Authentication-Results field of msg, unfolded.
func authResultsFields(msg []byte) []string {
	head, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	head = strings.NewReplacer("\r\n ", " ", "\r\n\t", " ").Replace(head)
	var out []string
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Authentication-Results") {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// TestE2EForgedAuthResultsEveryForm: every way RFC 8601 lets a field name our authserv-id is
// removed from mail arriving on the MX, the results of other services are kept, and the only
// field a reader (go-msgauth's parser) takes for ours is the one the gateway wrote.
func TestE2EForgedAuthResultsEveryForm(t *testing.T) {
	env, _ := securityEnv(t)
	host := env.Config.Hostname
	forms := []string{
		host + "; dmarc=pass header.from=bank.test",
		host + " 1; dmarc=pass header.from=bank.test",
		"(our gateway) " + host + "; dmarc=pass header.from=bank.test",
		`"` + host + `"; dmarc=pass header.from=bank.test`,
		host + ".; dmarc=pass header.from=bank.test",
		strings.ToUpper(host) + "; dmarc=pass header.from=bank.test",
		"\r\n\t" + host + "\r\n\t1 (v)\r\n\t; dmarc=pass header.from=bank.test",
		"(unclosed " + host + "; dmarc=pass header.from=bank.test",
	}
	var msg strings.Builder
	for _, f := range forms {
		msg.WriteString("Authentication-Results: " + f + "\r\n")
	}
	msg.WriteString("Authentication-Results: mx.upstream.test; spf=pass smtp.mailfrom=outside.test\r\n")
	msg.WriteString("From: x@outside.test\r\nSubject: results\r\n\r\nHi.\r\n")
	mustMX(t, env, "x@outside.test", "bob@localhost", []byte(msg.String()))
	got := imapFetchAll(t, env, "bob@localhost", bobPW)[0]
	if strings.Contains(string(got), "bank.test") {
		t.Fatalf("a forged Authentication-Results was stored:\n%s", got)
	}
	ours, upstream := 0, 0
	for _, f := range authResultsFields(got) {
		id, _, err := authres.Parse(f)
		ourID, _, ourErr := mailauth.ParseAuthservID(f)
		switch {
		case err == nil && mailauth.SameAuthservID(id, host), ourErr == nil && mailauth.SameAuthservID(ourID, host):
			ours++
		case id == "mx.upstream.test":
			upstream++
		}
	}
	if ours != 1 || upstream != 1 {
		t.Fatalf("%d fields read as ours, %d of upstream; want 1 and 1:\n%s", ours, upstream, got)
	}
}

// replyOf is the SMTP reply code and text of err ("250" for nil).
func replyOf(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
	}
	if err != nil {
		return err.Error()
	}
	return "250"
}

// spoofEnv is a gateway whose DNS publishes SPF and DMARC for its local domains and for a few
// Internet domains; the test client connects from 127.0.0.1, which only the SPF records of
// spfok.test, outside.test and lists.example.org authorize. Names not set answer SERVFAIL
// (dnsfail.test, a local domain). Answers are cached, so every case has a domain of its own.
func spoofEnv(t *testing.T) *gatewaytest.Env {
	env, _ := securityEnv(t, func(c *config.Config) {
		c.Domains = append(c.Domains, "spfok.test", "dnsfail.test")
		c.MailAuth.DMARCExempt = []string{"lists.example.org"}
	})
	for k, v := range map[string]string{
		"spfok.test. TXT":                       "v=spf1 ip4:127.0.0.1 -all",
		"bounces.lists.example.org. TXT":        "v=spf1 -all",
		"_dmarc.bounces.lists.example.org. TXT": "v=DMARC1; p=none",
		"localhost. TXT":                        "v=spf1 ip4:192.0.2.1 -all",
		"_dmarc.localhost. TXT":                 "v=DMARC1; p=reject",
		"bank.test. TXT":                        "v=spf1 ip4:192.0.2.2 -all exp=why.bank.test",
		"why.bank.test. TXT":                    "%{i} is not a mail server of %{d}",
		"_dmarc.bank.test. TXT":                 "v=DMARC1; p=reject",
		"shop.test. TXT":                        "v=spf1 ip4:192.0.2.3 -all",
		"_dmarc.shop.test. TXT":                 "v=DMARC1; p=quarantine",
		"news.test. TXT":                        "v=spf1 ip4:192.0.2.4 -all",
		"_dmarc.news.test. TXT":                 "v=DMARC1; p=none",
		"outside.test. TXT":                     "v=spf1 ip4:127.0.0.0/8 -all",
		"lists.example.org. TXT":                "v=spf1 ip4:127.0.0.0/8 -all",
	} {
		env.DNS.Set(k, v)
	}
	return env
}

// TestE2ESpoofedLocalSenderRefused: mail from the Internet that claims the local domain in
// MAIL FROM or From: is refused at DATA unless SPF passes or an aligned DKIM signature
// verifies; a DNS failure refuses it for now.
func TestE2ESpoofedLocalSenderRefused(t *testing.T) {
	env := spoofEnv(t)
	msg := func(from string) []byte {
		return []byte("From: " + from + "\r\nTo: bob@localhost\r\nSubject: spoof\r\n\r\nWire the money.\r\n")
	}
	for _, tc := range []struct{ name, mailFrom, from string }{
		{"envelope and From:", "alice@localhost", "Alice <alice@localhost>"},
		{"From: only", "x@outside.test", "alice@localhost"},
		{"envelope only", "alice@localhost", "x@outside.test"},
		{"From: in upper case with a trailing dot", "x@outside.test", "alice@LOCALHOST."},
		{"second From: address", "x@outside.test", "x@outside.test, alice@localhost"},
		{"malformed From:", "x@outside.test", "alice@localhost <"},
		{"null sender", "", "alice@localhost"},
	} {
		if got := replyOf(mx(t, env, tc.mailFrom, "bob@localhost", msg(tc.from))); !strings.HasPrefix(got, "550 5.7.1") {
			t.Errorf("%s: %s, want 550 5.7.1", tc.name, got)
		}
	}
	if n := len(imapFetchAll(t, env, "bob@localhost", bobPW)); n != 0 {
		t.Fatalf("%d spoofed messages delivered", n)
	}
	if !strings.Contains(env.Log.String(), "sender not authenticated") {
		t.Error("refusals not logged")
	}

	// The same mail from an address the domain's SPF authorizes is delivered.
	if got := replyOf(mx(t, env, "alice@spfok.test", "bob@localhost", msg("alice@spfok.test"))); got != "250" {
		t.Fatalf("SPF pass: %s", got)
	}

	// An aligned DKIM signature authenticates mail whose SPF fails.
	signed := dkimSignedLocal(t, env, msg("alice@localhost"))
	if got := replyOf(mx(t, env, "x@outside.test", "bob@localhost", signed)); got != "250" {
		t.Fatalf("aligned DKIM: %s", got)
	}
	if got := replyOf(mx(t, env, "x@outside.test", "bob@localhost", bytes.Replace(signed, []byte("Wire"), []byte("Send"), 1))); !strings.HasPrefix(got, "550 5.7.1") {
		t.Fatalf("broken DKIM signature: %s", got)
	}

	// DNS trouble: refused for now.
	if got := replyOf(mx(t, env, "alice@dnsfail.test", "bob@localhost", msg("x@outside.test"))); !strings.HasPrefix(got, "451 4.7.0") {
		t.Fatalf("SPF temperror: %s", got)
	}
	if n := len(imapFetchAll(t, env, "bob@localhost", bobPW)); n != 2 {
		t.Fatalf("%d messages delivered, want 2", n)
	}
}

// TestE2EDMARCEnforced: DMARC p=reject refuses failing mail at DATA, p=quarantine delivers it
// to Junk, p=none delivers it, and an authenticated mailing list (dmarc_exempt) gets through.
func TestE2EDMARCEnforced(t *testing.T) {
	env := spoofEnv(t)
	msg := func(from, subject string) []byte {
		return []byte("From: " + from + "\r\nTo: bob@localhost\r\nSubject: " + subject + "\r\n\r\nHello.\r\n")
	}
	// The reply quotes the domain's SPF explanation (exp=).
	if got := replyOf(mx(t, env, "ceo@bank.test", "bob@localhost", msg("ceo@bank.test", "reject"))); !strings.HasPrefix(got, "550 5.7.1") ||
		!strings.Contains(got, "DMARC policy of bank.test") || !strings.Contains(got, "127.0.0.1 is not a mail server of bank.test") {
		t.Fatalf("p=reject: %s", got)
	}
	if got := replyOf(mx(t, env, "x@outside.test", "bob@localhost", msg("ceo@bank.test", "reject"))); !strings.HasPrefix(got, "550 5.7.1") {
		t.Fatalf("p=reject, SPF pass for another domain: %s", got)
	}
	if got := replyOf(mx(t, env, "x@outside.test", "bob@localhost", msg("x@outside.test, ceo@bank.test", "reject"))); !strings.HasPrefix(got, "550 5.7.1") {
		t.Fatalf("p=reject of a second author: %s", got)
	}
	if got := replyOf(mx(t, env, "x@outside.test", "bob@localhost", msg("sales@shop.test", "quarantine"))); got != "250" {
		t.Fatalf("p=quarantine: %s", got)
	}
	if got := replyOf(mx(t, env, "x@outside.test", "bob@localhost", msg("editor@news.test", "none"))); got != "250" {
		t.Fatalf("p=none: %s", got)
	}
	for _, from := range []string{"ceo@bank.test", "alice@localhost"} {
		if got := replyOf(mx(t, env, "list-bounces@lists.example.org", "bob@localhost", msg(from, "list"))); got != "250" {
			t.Fatalf("list resending %s: %s", from, got)
		}
	}
	// Not exempt without authentication: the list's SPF does not authorize this client.
	if got := replyOf(mx(t, env, "list@bounces.lists.example.org", "bob@localhost", msg("ceo@bank.test", "list"))); !strings.HasPrefix(got, "550 5.7.1") {
		t.Fatalf("unauthenticated list: %s", got)
	}

	var inbox, junk []string
	for _, m := range imapFetchAll(t, env, "bob@localhost", bobPW) {
		inbox = append(inbox, fieldValue(m, "Subject"))
	}
	for _, m := range imapFetchMailbox(t, env, "bob@localhost", bobPW, "Junk") {
		junk = append(junk, fieldValue(m, "Subject"))
		if ar := fieldValue(m, "Authentication-Results"); !strings.Contains(ar, "dmarc=fail") {
			t.Errorf("quarantined message without dmarc=fail: %q", ar)
		}
	}
	if strings.Join(inbox, ",") != "none,list,list" || strings.Join(junk, ",") != "quarantine" {
		t.Fatalf("INBOX %q, Junk %q", inbox, junk)
	}
}

// dkimSignedLocal signs msg for the local domain localhost, as alice's own mail system would
// before sending it to the MX, with a key published in the test's DNS.
func dkimSignedLocal(t *testing.T, env *gatewaytest.Env, msg []byte) []byte {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	sel := fmt.Sprintf("t%x", pub[:6])
	env.DNS.Set(sel+"._domainkey.localhost. TXT", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{Domain: "localhost", Selector: sel, Signer: key}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
