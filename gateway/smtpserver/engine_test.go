package smtpserver_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// expect reads one reply per prefix and fails unless each begins with it.
func (s *rawSession) expect(prefixes ...string) {
	s.t.Helper()
	for _, p := range prefixes {
		got := s.reply()
		if !strings.HasPrefix(got[0], p) {
			s.t.Fatalf("got %q, want %q", got, p)
		}
	}
}

// closed fails unless the server has closed the connection (after any replies still unread).
func (s *rawSession) closed() {
	s.t.Helper()
	rest, err := io.ReadAll(s.r)
	if err != nil {
		s.t.Fatalf("connection not closed cleanly: %v (read %q)", err, rest)
	}
	if len(rest) > 0 {
		s.t.Fatalf("unexpected data before close: %q", rest)
	}
}

// greet dials the listener, reads the greeting and sends EHLO.
func greet(t *testing.T, addr string) *rawSession {
	t.Helper()
	s := rawDial(t, addr)
	s.expect("220 ")
	s.send("EHLO client.example.org\r\n")
	s.reply()
	return s
}

// startGreeted starts a gateway and greets its MX listener (greet).
func startGreeted(t *testing.T) (*gatewaytest.Env, *rawSession) {
	t.Helper()
	env := start(t)
	return env, greet(t, env.GW.Addr("smtp"))
}

func TestGreetingAndEHLO(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxRecipients = 77 })
	s := rawDial(t, env.GW.Addr("smtp"))
	s.expect("220 mx.example.test ESMTP Sealgate")
	s.send("EHLO\r\nHELO\r\nHELO client.example.org\r\nEHLO client.example.org\r\n")
	s.expect("501 5.5.4", "501 5.5.4", "250 mx.example.test")
	caps := s.reply()
	if caps[0] != "250-mx.example.test Hello client.example.org" {
		t.Fatalf("EHLO first line %q", caps[0])
	}
	want := []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS", "SMTPUTF8", "SIZE 52428800", "LIMITS RCPTMAX=77"}
	for i, w := range want {
		sep := "-"
		if i == len(want)-1 {
			sep = " "
		}
		if caps[i+1] != "250"+sep+w {
			t.Fatalf("EHLO line %d: %q, want %q\n%q", i+1, caps[i+1], w, caps)
		}
	}
	if len(caps) != len(want)+1 {
		t.Fatalf("EHLO lists more: %q", caps)
	}
	s.send("NOOP\r\nRSET\r\nVRFY alice\r\nHELP\r\nEXPN list\r\nFROB\r\nQUIT\r\n")
	s.expect("250 2.0.0", "250 2.0.0", "252 2.5.0", "214 2.0.0", "502 5.5.1", "500 5.5.2", "221 2.0.0")
	s.closed()
}

func TestSequenceErrors(t *testing.T) {
	env := start(t)
	s := rawDial(t, env.GW.Addr("smtp"))
	s.expect("220 ")
	s.send("MAIL FROM:<x@example.org>\r\nEHLO c\r\n")
	s.expect("503 5.5.1", "250-")
	s.send("RCPT TO:<alice@localhost>\r\nDATA\r\nMAIL FROM:<x@example.org>\r\nDATA\r\nMAIL FROM:<y@example.org>\r\nBDAT 6\r\nRSET\r\n")
	s.expect("503 5.5.1", "503 5.5.1", "250 2.0.0", "503 5.5.1", "503 5.5.1", "503 5.5.1")
	// The refused chunk was read and dropped, not taken as a command.
	s.send("NOOP\r\n")
	s.expect("250 2.0.0")
	// A second EHLO ends the transaction.
	s.send("MAIL FROM:<z@example.org>\r\nRSET\r\nMAIL FROM:<x@example.org>\r\nEHLO c\r\nRCPT TO:<alice@localhost>\r\n")
	s.expect("503 5.5.1", "250 2.0.0", "250 2.0.0", "250-", "503 5.5.1")
}

func TestParameters(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = 10 * config.KiB })
	s := greet(t, env.GW.Addr("smtp"))
	for _, tc := range []struct{ cmd, want string }{
		{"MAIL FROM:<x@example.org> FOO=BAR", "555 5.5.4"},
		{"MAIL FROM:<x@example.org> BODY=BINARYMIME", "555 5.5.4"},
		{"MAIL FROM:<x@example.org> SIZE=ten", "555 5.5.4"},
		{"MAIL FROM:<x@example.org> SIZE=1 SIZE=2", "555 5.5.4"},
		{"MAIL FROM:<x@example.org> SMTPUTF8=yes", "555 5.5.4"},
		{"MAIL FROM:<x@example.org> SIZE=", "501 5.5.2"},
		{"MAIL FROM:<x@example.org>SIZE=1", "501 5.5.2"},
		{"MAIL FROM:x@example.org>", "501 5.5.2"},
		{"MAIL TO:<x@example.org>", "501 5.5.2"},
		{"MAIL FROM:<x@example.org> SIZE=10241", "552 5.3.4"},
		{"MAIL FROM: <x@example.org> SIZE=10240 BODY=8BITMIME SMTPUTF8 AUTH=<>", "250 2.0.0"},
		{"RCPT TO:<alice@localhost> NOTIFY=NEVER", "555 5.5.4"},
		{"RCPT TO:alice@localhost", "250 2.0.0"},
		{"RCPT TO:<>", "501 5.5.2"},
		{"RSET", "250 2.0.0"},
		{"mail from:<>", "250 2.0.0"},
		{"rcpt to:<@relay.example.org:alice@localhost>", "250 2.0.0"},
	} {
		s.send(tc.cmd + "\r\n")
		if got := s.reply(); !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("%s: got %q, want %s", tc.cmd, got, tc.want)
		}
	}
}

func TestTooManyErrors(t *testing.T) {
	_, s := startGreeted(t)
	// Errors in a row end the session; a good command in between starts the count again.
	s.send(strings.Repeat("FROB\r\n", 9) + "NOOP\r\n" + strings.Repeat("FROB\r\n", 9))
	for range 9 {
		s.expect("500 5.5.2")
	}
	s.expect("250 2.0.0")
	for range 9 {
		s.expect("500 5.5.2")
	}
	s.send("FROB\r\n")
	s.expect("500 5.5.2", "421 4.7.0")
	s.closed()
}

func TestLongLines(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxLineLength = 512 })
	s := greet(t, env.GW.Addr("smtp"))
	// A command line over the limit is refused and dropped; the session goes on.
	s.send("NOOP " + strings.Repeat("a", 40000) + "\r\nNOOP\r\n")
	s.expect("500 5.4.0", "250 2.0.0")
	// Inside a message, only the size limit bounds a line.
	long := strings.Repeat("x", 100000)
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
	s.expect("250", "250", "354")
	s.send("Subject: long\r\n\r\n" + long + "\r\n.\r\n")
	s.expect("250 2.0.0 OK: queued as")
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 || !strings.HasSuffix(string(got[0].Body), "\r\n\r\n"+long+"\r\n") {
		t.Fatalf("INBOX: %d messages", len(got))
	}
}

func TestDataDotsAndEmptyMessage(t *testing.T) {
	env, s := startGreeted(t)
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
	s.expect("250", "250", "354")
	// Lines beginning with a dot arrive with it stuffed; the message keeps one dot.
	s.send("Subject: dots\r\n\r\n..\r\n...\r\n..x\r\n.\r\n")
	s.expect("250 2.0.0 OK: queued as")
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 || !strings.HasSuffix(string(got[0].Body), "\r\n\r\n.\r\n..\r\n.x\r\n") {
		t.Fatalf("INBOX: %v", got)
	}
	// The end marker right after 354: an empty message, which the MX takes as it is.
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n.\r\nNOOP\r\n")
	s.expect("250", "250", "354", "250 2.0.0 OK: queued as", "250 2.0.0")
	if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 2 || strings.Contains(string(got[1].Body), "Subject:") {
		t.Fatalf("empty message: %v", got)
	}
}

// TestNoSmuggling sends a message whose body holds a second transaction after "LF . LF" and
// "LF . CRLF" (SMTP smuggling): only CRLF . CRLF ends a message, so one message is stored
// with the would-be commands as text, and no second one.
func TestNoSmuggling(t *testing.T) {
	env, s := startGreeted(t)
	for _, end := range []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n"} {
		s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
		s.expect("250", "250", "354")
		smuggled := "MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"
		s.send("Subject: cover\r\n\r\ntext" + end + smuggled + ".\r\n")
		s.expect("250 2.0.0 OK: queued as")
	}
	s.send("NOOP\r\n")
	s.expect("250 2.0.0")
	if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 4 || !strings.Contains(string(got[0].Body), "Subject: smuggled") {
		t.Fatalf("alice: %v", got)
	}
	if got := env.Mailbox("bob@example.test", "INBOX"); len(got) != 0 {
		t.Fatalf("a smuggled message reached bob: %v", got)
	}
}

// TestSizeLimitDrain sends a message over the limit with stuffed dots and a pipelined
// command after it: the server reads the message to its end, refuses it with 552, and then
// answers the next command.
func TestSizeLimitDrain(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = 10 * config.KiB })
	s := greet(t, env.GW.Addr("smtp"))
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
	s.expect("250", "250", "354")
	s.send("Subject: big\r\n\r\n" + strings.Repeat("..\r\nline of text\r\n.\n", 5000) + "\r\n.\r\nNOOP\r\n")
	s.expect("552 5.3.4", "250 2.0.0")
	if n := len(env.Mailbox("alice@localhost", "INBOX")); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestBDATEngine(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = 10 * config.KiB })
	s := greet(t, env.GW.Addr("smtp"))
	// Chunks accumulate; BDAT 0 LAST ends the message; dots and CRLF . CRLF are plain data.
	p1, p2 := "Subject: chunks\r\n\r\n", "..\r\n.\r\nRSET\r\n"
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\n" +
		fmt.Sprintf("BDAT %d\r\n%sBDAT %d\r\n%sBDAT 0 LAST\r\n", len(p1), p1, len(p2), p2))
	s.expect("250", "250", "250 2.0.0", "250 2.0.0", "250 2.0.0 OK: queued as")
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 || !strings.HasSuffix(string(got[0].Body), p1+p2) {
		t.Fatalf("INBOX: %v", got)
	}
	// DATA does not mix with BDAT; RSET drops the chunks.
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nBDAT 5\r\nhelloDATA\r\nRSET\r\nBDAT 3 LAST\r\nabc")
	s.expect("250", "250", "250 2.0.0", "503 5.5.1", "250 2.0.0", "503 5.5.1")
	// A chunk over the size limit is read and refused with 552, the transaction ends, and
	// the rest of the pipeline is answered in order.
	big := strings.Repeat("y", 11*1024)
	s.send(fmt.Sprintf("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nBDAT %d LAST\r\n%sNOOP\r\n", len(big), big))
	s.expect("250", "250", "552 5.3.4", "250 2.0.0")
	// Chunks that add up to more than the limit.
	half := strings.Repeat("z", 6*1024)
	s.send(fmt.Sprintf("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nBDAT %d\r\n%sBDAT %d LAST\r\n%sNOOP\r\n", len(half), half, len(half), half))
	s.expect("250", "250", "250 2.0.0", "552 5.3.4", "250 2.0.0")
	if n := len(env.Mailbox("alice@localhost", "INBOX")); n != 1 {
		t.Fatalf("%d messages stored", n)
	}
	s.send("BDAT x\r\nBDAT 1 FIRST\r\nzNOOP\r\n")
	s.expect("501 5.5.4", "501 5.5.4", "250 2.0.0")
}

// TestSTARTTLSPipelinedPlaintextRefused sends a command in the same packet as STARTTLS: the
// server must not carry it into the TLS session (CVE-2011-0411), so it refuses and closes.
func TestSTARTTLSPipelinedPlaintextRefused(t *testing.T) {
	env := start(t)
	s := greet(t, env.GW.Addr("submission"))
	s.send("STARTTLS\r\nAUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice@localhost\x00"+alicePW)) + "\r\n")
	s.expect("554 5.5.0")
	s.closed()
}

func TestSTARTTLSResetsState(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	s := greet(t, env.GW.Addr("submission"))
	s.send("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice@localhost\x00"+alicePW)) + "\r\n")
	s.expect("235 2.7.0")
	s.send("STARTTLS extra\r\n")
	s.expect("501 5.5.4")
	s.send("STARTTLS\r\n")
	s.expect("220 2.0.0")
	tc := tls.Client(s.conn, env.TLSConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	s.conn = tc
	s.r.Reset(tc)
	// Neither the greeting nor the login survive TLS.
	s.send("MAIL FROM:<alice@localhost>\r\nEHLO c\r\nMAIL FROM:<alice@localhost>\r\nSTARTTLS\r\nQUIT\r\n")
	s.expect("503 5.5.1")
	caps := strings.Join(s.reply(), "\n")
	if strings.Contains(caps, "STARTTLS") || !strings.Contains(caps, "AUTH PLAIN LOGIN") {
		t.Fatalf("EHLO over TLS:\n%s", caps)
	}
	s.expect("530 5.7.0", "503 5.5.1", "221")
}

func TestSTARTTLSUnavailable(t *testing.T) {
	env := start(t)
	c, err := tls.Dial("tcp", env.GW.Addr("submissions"), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // else the gateway's shutdown waits for this session
	s := rawDial(t, env.GW.Addr("submissions"))
	s.conn.Close()
	s.conn = c
	s.r.Reset(c)
	s.expect("220 ")
	s.send("EHLO c\r\n")
	if caps := strings.Join(s.reply(), "\n"); strings.Contains(caps, "STARTTLS") {
		t.Fatalf("STARTTLS offered on implicit TLS:\n%s", caps)
	}
	s.send("STARTTLS\r\n")
	s.expect("503 5.5.1")
}

func TestAuthEdgeCases(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	s := rawDial(t, env.GW.Addr("submission"))
	s.expect("220 ")
	s.send("AUTH PLAIN\r\n")
	s.expect("503 5.5.1") // EHLO first
	s.send("EHLO c\r\n")
	s.reply()
	s.send("AUTH\r\nAUTH CRAM-MD5\r\nAUTH PLAIN !!notbase64\r\nAUTH PLAIN =\r\n")
	s.expect("501 5.5.4", "504 5.5.4", "501 5.5.2", "501 5.5.2")
	// No initial response: an empty challenge; "*" cancels.
	s.send("AUTH PLAIN\r\n")
	s.expect("334 ")
	s.send("*\r\n")
	s.expect("501 5.0.0")
	s.send("AUTH LOGIN\r\n")
	s.expect("334 " + b64("Username:"))
	s.send("not base64!\r\n")
	s.expect("501 5.5.2")
	s.send("AUTH PLAIN " + b64("\x00alice@localhost\x00wrong-password") + "\r\n")
	s.expect("535 5.7.8")
	// "=" is an empty initial response: LOGIN then asks for the user name.
	s.send("AUTH LOGIN =\r\n")
	s.expect("334 " + b64("Username:"))
	s.send(b64("alice@localhost") + "\r\n")
	s.expect("334 " + b64("Password:"))
	s.send(b64(alicePW) + "\r\n")
	s.expect("235 2.7.0")
	s.send("AUTH PLAIN " + b64("\x00alice@localhost\x00"+alicePW) + "\r\n")
	s.expect("503 5.5.1")
	for _, secret := range []string{alicePW, b64(alicePW), "wrong-password", b64("\x00alice@localhost\x00wrong-password")} {
		if strings.Contains(env.Log.String(), secret) {
			t.Fatalf("the log holds %q", secret)
		}
	}
	// AUTH inside a transaction, on the MX listener, which has no AUTH at all.
	m := greet(t, env.GW.Addr("smtp"))
	m.send("AUTH PLAIN " + b64("\x00alice@localhost\x00"+alicePW) + "\r\nMAIL FROM:<x@example.org>\r\nAUTH PLAIN =\r\n")
	m.expect("502 5.5.1", "250 2.0.0", "503 5.5.1")
}

// BenchmarkSessionLoopback sends 10 KiB messages to a local user through the MX listener
// over loopback, one session, MAIL, RCPT and DATA pipelined: the engine, the pipeline and
// the durable store together.
func BenchmarkSessionLoopback(b *testing.B) {
	env := gatewaytest.Start(b)
	env.AddUser("alice@localhost", alicePW)
	conn, err := net.Dial("tcp", env.GW.Addr("smtp"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	readReply := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) > 3 && line[3] == ' ' {
				return line
			}
		}
	}
	readReply()
	io.WriteString(conn, "EHLO bench.example.org\r\n")
	readReply()
	var msg strings.Builder
	msg.WriteString("MAIL FROM:<bench@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
	msg.WriteString("From: bench@example.org\r\nTo: alice@localhost\r\nSubject: benchmark\r\n\r\n")
	for msg.Len() < 10<<10 {
		msg.WriteString(strings.Repeat("abcdefghij", 7) + "0123\r\n")
	}
	msg.WriteString(".\r\n")
	cmd := []byte(msg.String())
	b.SetBytes(int64(len(cmd)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := conn.Write(cmd); err != nil {
			b.Fatal(err)
		}
		for _, want := range []string{"250", "250", "354", "250"} {
			if got := readReply(); !strings.HasPrefix(got, want) {
				b.Fatalf("got %q, want %s", got, want)
			}
		}
	}
}

func TestIdleInsideData(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.SMTPIdleTimeout = config.Duration{Duration: 300 * time.Millisecond} })
	s := greet(t, env.GW.Addr("smtp"))
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\nSubject: half\r\n\r\nand then nothing")
	s.expect("250", "250", "354", "421 4.4.2")
	s.closed()
	if n := len(env.Mailbox("alice@localhost", "INBOX")); n != 0 {
		t.Fatalf("%d messages stored from a message cut short", n)
	}
}

func TestSTARTTLSHandshakeFailure(t *testing.T) {
	_, s := startGreeted(t)
	s.send("STARTTLS\r\n")
	s.expect("220 2.0.0")
	// Plaintext where the TLS ClientHello belongs: the session ends, nothing more is said.
	s.send("EHLO c\r\nMAIL FROM:<x@example.org>\r\n")
	rest, err := io.ReadAll(s.r)
	if err != nil || strings.Contains(string(rest), "250") {
		t.Fatalf("after a failed handshake: %q %v", rest, err)
	}
}

func TestReplyTextHasNoLineBreak(t *testing.T) {
	env := start(t)
	s := rawDial(t, env.GW.Addr("smtp"))
	s.expect("220 ")
	s.send("EHLO a\rb\r\nHELO x\ry\r\n")
	if got := s.reply(); got[0] != "250-mx.example.test Hello a b" {
		t.Fatalf("EHLO reply %q", got)
	}
	s.expect("250 mx.example.test")
	s.send("MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@localhost>\r\nBDAT 1\r\nxRCPT TO:<bob@example.test>\r\n")
	s.expect("250", "250", "250 2.0.0", "503 5.5.1")
}
