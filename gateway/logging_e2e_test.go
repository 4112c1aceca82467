package gateway_test

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestMessageAndLoginLog: every message accepted or refused, every refused envelope address
// and every login on SMTP, IMAP and POP3, success and failure, is one log record with the
// session, client address, user, sender, recipients, size, result and ids; no password is
// in the log.
func TestMessageAndLoginLog(t *testing.T) {
	env := gatewaytest.Start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	const pw, wrong = "Log-Test-Passw0rd", "Wrong-Passw0rd-Log"
	env.AddUser("alice@localhost", pw)

	// MX: one accepted message, one unknown recipient.
	c, err := smtp.Dial(env.GW.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("nobody@localhost", nil); err == nil {
		t.Fatal("unknown recipient accepted")
	}
	msg := "Subject: log\r\n\r\nhello\r\n"
	if err := c.Rcpt("alice@localhost", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, msg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	// Submission: a wrong password, the right one, a sender alice does not own, a forged From.
	s, err := smtp.Dial(env.GW.Addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Auth(sasl.NewPlainClient("", "alice@localhost", wrong)); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := s.Auth(sasl.NewPlainClient("", "alice@localhost", pw)); err != nil {
		t.Fatal(err)
	}
	if err := s.Mail("mallory@localhost", nil); err == nil {
		t.Fatal("a sender alice does not own was accepted")
	}
	if err := s.Mail("alice@localhost", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Rcpt("alice@localhost", nil); err != nil {
		t.Fatal(err)
	}
	w, err = s.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "From: ceo@localhost\r\nSubject: forged\r\n\r\nx\r\n")
	if err := w.Close(); err == nil {
		t.Fatal("a forged From: was accepted")
	}

	// IMAP and POP3: wrong, then right.
	imapAndPOP3Logins(t, env, "alice@localhost", wrong, pw)

	logs := env.Log
	deadline := time.Now().Add(10 * time.Second)
	want := func(msg string, fields map[string]string, also ...string) {
		t.Helper()
		for {
			rec, ok := logs.Find(msg, fields)
			if ok {
				for _, k := range also {
					if rec[k] == "" {
						t.Errorf("%s %v: no %s in %v", msg, fields, k, rec)
					}
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log record %q with %v in:\n%s", msg, fields, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	want("message accepted", map[string]string{"client": "127.0.0.1", "sender": "sender@example.org", "recipients": "[alice@localhost]",
		"size": fmt.Sprint(len(msg)), "result": "accepted", "reply": "250 2.0.0"}, "session", "id", "listener")
	want("recipient refused", map[string]string{"client": "127.0.0.1", "sender": "sender@example.org", "recipient": "nobody@localhost",
		"result": "refused", "reply": "550 5.1.1"}, "session")
	want("sender refused", map[string]string{"sender": "mallory@localhost", "user": "alice@localhost", "result": "refused"}, "session", "client")
	want("message refused", map[string]string{"sender": "alice@localhost", "recipients": "[alice@localhost]", "user": "alice@localhost",
		"result": "refused"}, "session", "client", "size", "reply", "id")
	for _, proto := range []string{"smtp", "imap", "pop3"} {
		want("login", map[string]string{"protocol": proto, "client": "127.0.0.1", "user": "alice@localhost", "result": "failed"}, "session", "reason")
		want("login", map[string]string{"protocol": proto, "client": "127.0.0.1", "user": "alice@localhost", "result": "ok"}, "session")
	}
	for _, secret := range []string{pw, wrong} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a password is in the log")
		}
	}
}

// imapAndPOP3Logins logs in as user with each password in turn over IMAP, and then over POP3 in
// one session, and returns once the server has answered them all.
func imapAndPOP3Logins(t *testing.T, env *gatewaytest.Env, user string, passwords ...string) {
	t.Helper()
	for _, p := range passwords {
		ic, err := imapclient.DialInsecure(env.GW.Addr("imap"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ic.Login(user, p).Wait()
		ic.Close()
	}
	pc := dialFrom(t, "127.0.0.1", env.GW.Addr("pop3"))
	defer pc.Close()
	for _, p := range passwords {
		fmt.Fprintf(pc, "USER %s\r\nPASS %s\r\n", user, p)
	}
	fmt.Fprint(pc, "QUIT\r\n")
	br := bufio.NewReader(pc)
	for {
		l, err := br.ReadString('\n')
		if err != nil || strings.HasPrefix(l, "+OK") && strings.Contains(l, "signing off") || strings.Contains(l, "+OK maildrop") {
			return
		}
	}
}
