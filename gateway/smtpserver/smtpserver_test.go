package smtpserver_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

const alicePW = "alice-secret-pw"

func start(t *testing.T, mods ...func(*config.Config)) *gatewaytest.Env {
	t.Helper()
	env := gatewaytest.Start(t, mods...)
	env.AddUser("alice@localhost", alicePW)
	env.AddUser("bob@example.test", "bob-secret-pw")
	return env
}

func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	return c
}

// submit logs alice in on the submission listener over STARTTLS.
func submit(t *testing.T, env *gatewaytest.Env) *smtp.Client {
	t.Helper()
	return env.Submission("alice@localhost", alicePW)
}

func dialStartTLS(t *testing.T, env *gatewaytest.Env, listener string) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(env.GW.Addr(listener), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t *testing.T, err error, code int, enhanced string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP %d %s", err, code, enhanced)
	}
	got := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != code || (enhanced != "" && got != enhanced) {
		t.Fatalf("got %d %s %q, want %d %s", se.Code, got, se.Message, code, enhanced)
	}
}

func sendData(c *smtp.Client, msg string) error {
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

func queueLen(t *testing.T, env *gatewaytest.Env) int {
	t.Helper()
	q, err := env.Embedded().QueueEntries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(q)
}

func TestMXDeliversToLocalUser(t *testing.T) {
	env := start(t)
	c := dial(t, env.GW.Addr("smtp"))
	msg := "From: someone@example.org\r\nTo: alice@localhost\r\nSubject: hello\r\n\r\nHi Alice.\r\n..dot line\r\n"
	if err := c.Mail("someone@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("Alice@LOCALHOST", nil); err != nil {
		t.Fatal(err)
	}
	if err := sendData(c, msg); err != nil {
		t.Fatal(err)
	}
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 {
		t.Fatalf("%d messages in INBOX", len(got))
	}
	body := string(got[0].Body)
	if !strings.HasPrefix(body, "Return-Path: <someone@example.org>\r\nReceived: from client.example.org ([127.0.0.1])\r\n\tby mx.example.test (Sealgate) with ESMTP id ") {
		t.Fatalf("trace headers wrong:\n%s", body)
	}
	if !strings.HasSuffix(body, msg) {
		t.Fatalf("original message not intact:\n%q", body)
	}
	if strings.Contains(body, "Message-ID") {
		t.Fatal("MX mail got a Message-ID added; only submission adds one")
	}
}

func TestMXUnknownUser(t *testing.T) {
	env := start(t)
	c := dial(t, env.GW.Addr("smtp"))
	c.Mail("someone@example.org", nil)
	wantCode(t, c.Rcpt("nobody@localhost", nil), 550, "5.1.1")
	wantCode(t, c.Rcpt("nobody@example.test", nil), 550, "5.1.1")
}

// relayTrick is an RCPT address that tries to make the gateway relay, and the reply it gets.
type relayTrick struct {
	rcpt     string
	code     int
	enhanced string
}

// relayTricks are the classic open-relay probes against a domain of ours (local or relay domain)
// whose only known user is alice.
func relayTricks(ours string) []relayTrick {
	return []relayTrick{
		{"victim@example.org", 554, "5.7.1"},
		{"VICTIM@EXAMPLE.ORG", 554, "5.7.1"},
		{"victim@example.org.", 554, "5.7.1"},
		{"victim@[127.0.0.1]", 554, "5.7.1"},
		{"victim@[IPv6:::1]", 554, "5.7.1"},
		{"victim@" + ours + ".example.org", 554, "5.7.1"},
		{"victim%example.org@" + ours, 550, "5.1.1"},
		{"example.org!victim@" + ours, 550, "5.1.1"},
		// go-smtp hands the local part over unquoted; what remains is no valid address.
		{`"victim@example.org"@` + ours, 501, "5.1.3"},
		{"alice@" + ours + "@example.org", 501, "5.1.3"},
		// Source routes are ignored (RFC 5321 §3.6.1): what remains is a foreign address.
		{"@" + ours + ":victim@example.org", 554, "5.7.1"},
		{"@" + ours + ",@example.test:victim@example.org", 554, "5.7.1"},
		{"victim@example.org@" + ours, 501, "5.1.3"},
		{"", 501, ""},
	}
}

func TestNoOpenRelay(t *testing.T) {
	env := start(t)
	cases := relayTricks("localhost")
	for _, tc := range cases {
		t.Run(tc.rcpt, func(t *testing.T) {
			c := dial(t, env.GW.Addr("smtp"))
			if err := c.Mail("spammer@example.org", nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, c.Rcpt(tc.rcpt, nil), tc.code, tc.enhanced)
		})
	}
	// Unauthenticated submission cannot relay either: it cannot even start a transaction.
	c := dial(t, env.GW.Addr("submission"))
	wantCode(t, c.Mail("alice@localhost", nil), 530, "5.7.0")
	if n := queueLen(t, env); n != 0 {
		t.Fatalf("%d messages queued for relay", n)
	}
}

func TestAuthOnlyAfterTLS(t *testing.T) {
	env := start(t)
	c := dial(t, env.GW.Addr("submission"))
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("submission does not offer STARTTLS")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH offered before TLS")
	}
	wantCode(t, c.Auth(sasl.NewPlainClient("", "alice@localhost", alicePW)), 538, "5.7.11")
	c = dialStartTLS(t, env, "submission")
	ok, mechs := c.Extension("AUTH")
	if !ok || mechs != "PLAIN LOGIN" {
		t.Fatalf("AUTH after TLS: %v %q", ok, mechs)
	}
	wantCode(t, c.Auth(sasl.NewPlainClient("", "alice@localhost", "wrong")), 535, "5.7.8")
	wantCode(t, c.Auth(sasl.NewPlainClient("", "nobody@localhost", alicePW)), 535, "5.7.8")
	if err := c.Auth(sasl.NewLoginClient("alice@localhost", alicePW)); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	if strings.Contains(env.Log.String(), alicePW) || strings.Contains(env.Log.String(), "wrong") {
		t.Fatal("a password reached the log")
	}
}

func TestMXOffersNoAuth(t *testing.T) {
	env := start(t)
	c := dialStartTLS(t, env, "smtp")
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("MX listener offers AUTH")
	}
}

func TestPlaintextAuthOnLoopbackOnlyWhenAllowed(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	c := dial(t, env.GW.Addr("submission"))
	if err := c.Auth(sasl.NewPlainClient("", "alice@localhost", alicePW)); err != nil {
		t.Fatalf("loopback plaintext AUTH with the development option: %v", err)
	}
}

func TestImplicitTLSSubmission(t *testing.T) {
	env := start(t)
	c, err := smtp.DialTLS(env.GW.Addr("submissions"), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice@localhost", alicePW)); err != nil {
		t.Fatal(err)
	}
	c.Mail("alice@localhost", nil)
	c.Rcpt("bob@example.test", nil)
	if err := sendData(c, "From: Alice <alice@localhost>\r\nSubject: x\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	got := env.Mailbox("bob@example.test", "INBOX")
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "with ESMTPSA id") {
		t.Fatalf("bob's INBOX: %v", got)
	}
}

func TestSubmissionSenderOwnership(t *testing.T) {
	env := start(t)
	c := submit(t, env)
	wantCode(t, c.Mail("bob@example.test", nil), 553, "5.7.1")
	wantCode(t, c.Mail("", nil), 553, "5.7.1")
	// The envelope is hers, the From: header is not.
	if err := c.Mail("alice+lists@localhost", nil); err != nil {
		t.Fatalf("own sub-address refused: %v", err)
	}
	c.Rcpt("bob@example.test", nil)
	wantCode(t, sendData(c, "From: bob@example.test\r\nSubject: forged\r\n\r\nx\r\n"), 550, "5.7.1")
	c.Mail("alice@localhost", nil)
	c.Rcpt("bob@example.test", nil)
	wantCode(t, sendData(c, "From: alice@localhost, bob@example.test\r\nSubject: forged\r\n\r\nx\r\n"), 550, "5.7.1")
	c.Mail("alice@localhost", nil)
	c.Rcpt("bob@example.test", nil)
	wantCode(t, sendData(c, "Subject: no from\r\n\r\nx\r\n"), 550, "5.6.0")
	if n := len(env.Mailbox("bob@example.test", "INBOX")); n != 0 {
		t.Fatalf("%d forged messages stored", n)
	}
}

func TestSubmissionLocalAndRemoteCopies(t *testing.T) {
	env := start(t)
	c := submit(t, env)
	if err := c.Mail("alice@localhost", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"bob@example.test", "carol@remote.example", "dave@remote.example"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	if err := sendData(c, "From: \"Alice\" <alice@localhost>\r\nSubject: both\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	local := env.Mailbox("bob@example.test", "INBOX")
	if len(local) != 1 {
		t.Fatalf("bob has %d messages", len(local))
	}
	lb := string(local[0].Body)
	for _, h := range []string{"Return-Path: <alice@localhost>\r\n", "Received: ", "\r\nMessage-ID: <", "@mx.example.test>\r\n", "\r\nDate: "} {
		if !strings.Contains(lb, h) {
			t.Fatalf("local copy lacks %q:\n%s", h, lb)
		}
	}
	q, err := env.Embedded().QueueEntries(context.Background())
	if err != nil || len(q) != 1 {
		t.Fatalf("queue: %+v %v", q, err)
	}
	e := q[0]
	if e.Sender != "alice@localhost" || len(e.Recipients) != 2 || e.Recipients[0].Address != "carol@remote.example" || e.Recipients[0].State != "pending" {
		t.Fatalf("queue entry %+v", e)
	}
	rc, _, err := env.GW.Store().OpenBody(context.Background(), e.BodyID)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(rb, []byte("Return-Path")) || !bytes.HasPrefix(rb, []byte("Received: ")) {
		t.Fatalf("relayed copy has wrong trace headers:\n%s", rb)
	}
	// Both copies carry the same Message-ID.
	mid := regexp.MustCompile(`Message-ID: <[^>]+>`)
	if mid.FindString(lb) != mid.FindString(string(rb)) {
		t.Fatal("local and relayed copies have different Message-IDs")
	}
}

func TestSizeLimit(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = 10 * config.KiB })
	c := dial(t, env.GW.Addr("smtp"))
	if ok, size := c.Extension("SIZE"); !ok || size != "10240" {
		t.Fatalf("SIZE %v %q", ok, size)
	}
	wantCode(t, c.Mail("x@example.org", &smtp.MailOptions{Size: 20000}), 552, "5.3.4")
	c.Mail("x@example.org", nil)
	c.Rcpt("alice@localhost", nil)
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 1000)
	wantCode(t, sendData(c, big), 552, "")
	// The session is still usable and a message within the limit passes.
	if err := c.Mail("x@example.org", nil); err != nil {
		t.Fatal(err)
	}
	c.Rcpt("alice@localhost", nil)
	if err := sendData(c, "Subject: small\r\n\r\nok\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "small") {
		t.Fatalf("INBOX after oversize: %d messages", len(got))
	}
}

func TestRecipientLimit(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxRecipients = 2 })
	c := dial(t, env.GW.Addr("smtp"))
	c.Mail("x@example.org", nil)
	c.Rcpt("alice@localhost", nil)
	c.Rcpt("bob@example.test", nil)
	wantCode(t, c.Rcpt("alice@localhost", nil), 452, "4.5.3")
}

// rawSession speaks SMTP by hand to test what a library client would hide.
type rawSession struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func rawDial(t *testing.T, addr string) *rawSession {
	t.Helper()
	conn := wiretest.Dial(t, addr, 20*time.Second)
	return &rawSession{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// reply reads one (possibly multi-line) reply and returns its lines.
func (s *rawSession) reply() []string {
	s.t.Helper()
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading reply after %q: %v", lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines
		}
	}
}

func (s *rawSession) send(text string) {
	if _, err := io.WriteString(s.conn, text); err != nil {
		s.t.Fatal(err)
	}
}

func TestEHLOCapabilities(t *testing.T) {
	env := start(t)
	s := rawDial(t, env.GW.Addr("smtp"))
	if g := s.reply(); !strings.HasPrefix(g[0], "220 mx.example.test ESMTP") {
		t.Fatalf("greeting %q", g)
	}
	s.send("EHLO client.example.org\r\n")
	caps := strings.Join(s.reply(), "\n")
	for _, c := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 52428800", "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING"} {
		if !strings.Contains(caps, "250-"+c) && !strings.Contains(caps, "250 "+c) {
			t.Errorf("EHLO lacks %s:\n%s", c, caps)
		}
	}
}

func TestPipelining(t *testing.T) {
	env, s := startGreeted(t)
	// One write with the whole envelope, as a pipelining client sends it (RFC 2920).
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nRCPT TO:<nobody@localhost>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
	s.expect("250 2.0.0", "250 2.0.0", "550 5.1.1", "250 2.0.0", "354")
	s.send("Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<y@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\nSubject: piped 2\r\n\r\nbody\r\n.\r\nQUIT\r\n")
	s.expect("250 2.0.0 OK: queued as", "250 2.0.0", "250 2.0.0", "354", "250 2.0.0 OK: queued as", "221")
	if n := len(env.Mailbox("alice@localhost", "INBOX")); n != 2 {
		t.Fatalf("alice has %d messages", n)
	}
	if n := len(env.Mailbox("bob@example.test", "INBOX")); n != 1 {
		t.Fatalf("bob has %d messages", n)
	}
}

func TestBDAT(t *testing.T) {
	env, s := startGreeted(t)
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\n")
	s.expect("250", "250")
	part1, part2 := "Subject: chunked\r\n\r\n", "no dot-stuffing here\r\n.\r\n"
	s.send(fmt.Sprintf("BDAT %d\r\n%s", len(part1), part1))
	s.expect("250")
	s.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(part2), part2))
	s.expect("250 2.0.0 OK: queued")
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 || !strings.HasSuffix(string(got[0].Body), part1+part2) {
		t.Fatalf("BDAT message: %v", got)
	}
}

func TestLongCommandLine(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxLineLength = 512 })
	s := rawDial(t, env.GW.Addr("smtp"))
	s.reply()
	s.send("EHLO " + strings.Repeat("a", 600) + "\r\n")
	s.expect("500 5.4.0")
}

func TestSMTPUTF8(t *testing.T) {
	env := start(t)
	env.AddUser("jörg@example.test", "pw-jörg")
	c := dial(t, env.GW.Addr("smtp"))
	c.Mail("x@example.org", nil)
	wantCode(t, c.Rcpt("jörg@example.test", nil), 553, "5.6.7")
	c.Reset()
	if err := c.Mail("x@example.org", &smtp.MailOptions{UTF8: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("jörg@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := sendData(c, "Subject: grüße\r\n\r\nok\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := env.Mailbox("jörg@example.test", "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "with UTF8SMTP id") {
		t.Fatalf("INBOX: %v", got)
	}
}

func TestConnectionsPerAddress(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxConnectionsPerIP = 2 })
	a := rawDial(t, env.GW.Addr("smtp"))
	a.reply()
	b := rawDial(t, env.GW.Addr("submission"))
	b.reply()
	c := rawDial(t, env.GW.Addr("smtp"))
	if got := c.reply(); !strings.HasPrefix(got[0], "421 4.7.0") {
		t.Fatalf("third connection: %q", got)
	}
	a.send("QUIT\r\n")
	a.reply()
	a.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := rawDial(t, env.GW.Addr("smtp"))
		if got := d.reply(); strings.HasPrefix(got[0], "220") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not released after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	env := start(t)
	c := dial(t, env.GW.Addr("smtp"))
	c.Mail("x@example.org", nil)
	c.Rcpt("alice@localhost", nil)
	if err := sendData(c, "Subject: m\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + env.GW.Addr("http") + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		return string(b)
	}
	if h := get("/healthz"); h != "ok\n" {
		t.Fatalf("healthz %q", h)
	}
	m := get("/metrics")
	if !strings.Contains(m, `sealgate_smtp_data_replies_total{code="250",listener="smtp"} 1`) {
		t.Fatalf("metrics lack the accepted message:\n%s", m)
	}
}

func TestIdleTimeout(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.SMTPIdleTimeout = config.Duration{Duration: 300 * time.Millisecond} })
	s := rawDial(t, env.GW.Addr("smtp"))
	s.reply()
	s.send("EHLO c\r\n")
	s.reply()
	// Say nothing more: the server must give up on the session with 421.
	s.expect("421 4.4.2")
}
