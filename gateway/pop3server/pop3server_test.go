package pop3server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

const pw = "pop-secret-pw"

func start(t *testing.T, mods ...func(*config.Config)) *gatewaytest.Env {
	t.Helper()
	env := gatewaytest.Start(t, mods...)
	env.AddUser("alice@localhost", pw)
	return env
}

func loopbackPlain(c *config.Config) { c.Auth.PlaintextOnLoopback = true }

// deliver sends messages to alice over the MX listener.
func deliver(t *testing.T, env *gatewaytest.Env, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		env.Deliver(t, "alice@localhost", b)
	}
}

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn := wiretest.Dial(t, addr, 30*time.Second)
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.line(); !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("greeting %q", g)
	}
	return c
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line without CRLF: %q", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// cmd sends a command and returns the status line.
func (c *client) cmd(format string, args ...any) string {
	c.t.Helper()
	fmt.Fprintf(c.conn, format+"\r\n", args...)
	return c.line()
}

// multi reads a multi-line body up to the terminating dot, undoing dot-stuffing.
func (c *client) multi() []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

func (c *client) ok(format string, args ...any) string {
	c.t.Helper()
	l := c.cmd(format, args...)
	if !strings.HasPrefix(l, "+OK") {
		c.t.Fatalf("%s: %q", fmt.Sprintf(format, args...), l)
	}
	return l
}

func (c *client) login() {
	c.t.Helper()
	c.ok("USER alice@localhost")
	c.ok("PASS %s", pw)
}

func inboxCount(t *testing.T, env *gatewaytest.Env) int {
	return len(env.Mailbox("alice@localhost", "INBOX"))
}

func TestPlaintextRefusedBeforeTLS(t *testing.T) {
	env := start(t)
	c := dial(t, env.GW.Addr("pop3"))
	c.ok("CAPA")
	capa := strings.Join(c.multi(), "\n")
	if strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") || !strings.Contains(capa, "STLS") {
		t.Fatalf("CAPA before TLS:\n%s", capa)
	}
	if l := c.cmd("USER alice@localhost"); !strings.HasPrefix(l, "-ERR [AUTH]") {
		t.Fatalf("USER before TLS: %q", l)
	}
	if l := c.cmd("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice@localhost\x00"+pw))); !strings.HasPrefix(l, "-ERR [AUTH]") {
		t.Fatalf("AUTH before TLS: %q", l)
	}
	// After STLS the same session may log in.
	c.ok("STLS")
	tc := tls.Client(c.conn, env.TLSConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	c.ok("CAPA")
	capa = strings.Join(c.multi(), "\n")
	if !strings.Contains(capa, "USER") || strings.Contains(capa, "STLS") {
		t.Fatalf("CAPA after TLS:\n%s", capa)
	}
	c.login()
}

func TestSASLPlainAndFailures(t *testing.T) {
	env := start(t, loopbackPlain)
	c := dial(t, env.GW.Addr("pop3"))
	if l := c.cmd("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice@localhost\x00wrong"))); !strings.HasPrefix(l, "-ERR [AUTH]") {
		t.Fatalf("wrong password: %q", l)
	}
	if l := c.cmd("AUTH PLAIN"); l != "+ " {
		t.Fatalf("AUTH PLAIN without initial response: %q", l)
	}
	if l := c.cmd("%s", base64.StdEncoding.EncodeToString([]byte("\x00alice@localhost\x00"+pw))); !strings.HasPrefix(l, "+OK maildrop locked") {
		t.Fatalf("AUTH PLAIN with continuation: %q", l)
	}
	// Three failed logins close the connection.
	d := dial(t, env.GW.Addr("pop3"))
	for i := 0; i < 3; i++ {
		d.cmd("USER nobody@localhost")
		if l := d.cmd("PASS x"); !strings.HasPrefix(l, "-ERR [AUTH]") {
			t.Fatalf("failed login %d: %q", i, l)
		}
	}
	if _, err := d.r.ReadString('\n'); err != io.EOF {
		t.Fatalf("connection still open after 3 failed logins: %v", err)
	}
}

func TestTransactionCommands(t *testing.T) {
	env := start(t, loopbackPlain)
	deliver(t, env,
		"Subject: one\r\n\r\nfirst body\r\n.leading dot\r\nline3\r\n",
		"Subject: two\r\n\r\nsecond\r\n")
	stored := env.Mailbox("alice@localhost", "INBOX")
	c := dial(t, env.GW.Addr("pop3"))
	c.login()
	size1, size2 := len(stored[0].Body), len(stored[1].Body)
	if l := c.ok("STAT"); l != fmt.Sprintf("+OK 2 %d", size1+size2) {
		t.Fatalf("STAT %q", l)
	}
	c.ok("LIST")
	if got := c.multi(); fmt.Sprint(got) != fmt.Sprintf("[1 %d 2 %d]", size1, size2) {
		t.Fatalf("LIST %v", got)
	}
	if l := c.ok("LIST 2"); l != fmt.Sprintf("+OK 2 %d", size2) {
		t.Fatalf("LIST 2: %q", l)
	}
	if l := c.cmd("LIST 3"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("LIST 3: %q", l)
	}
	c.ok("UIDL")
	uidl := c.multi()
	if len(uidl) != 2 || !strings.HasSuffix(uidl[0], ".1") || !strings.HasSuffix(uidl[1], ".2") {
		t.Fatalf("UIDL %v", uidl)
	}
	c.ok("RETR 1")
	if got := strings.Join(c.multi(), "\r\n") + "\r\n"; got != string(stored[0].Body) {
		t.Fatalf("RETR 1:\n%q\nwant\n%q", got, stored[0].Body)
	}
	c.ok("TOP 1 1")
	top := c.multi()
	if top[len(top)-1] != "first body" || top[len(top)-2] != "" {
		t.Fatalf("TOP 1 1: %q", top)
	}
	c.ok("DELE 1")
	if l := c.cmd("DELE 1"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("DELE twice: %q", l)
	}
	if l := c.cmd("RETR 1"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("RETR deleted: %q", l)
	}
	if l := c.ok("STAT"); l != fmt.Sprintf("+OK 1 %d", size2) {
		t.Fatalf("STAT after DELE %q", l)
	}
	c.ok("RSET")
	c.ok("NOOP")
	if l := c.ok("STAT"); !strings.HasPrefix(l, "+OK 2 ") {
		t.Fatalf("STAT after RSET %q", l)
	}
	c.ok("DELE 2")
	if l := c.cmd("BOGUS"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("unknown command: %q", l)
	}
	c.ok("QUIT")
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 || got[0].UID != 1 {
		t.Fatalf("after QUIT: %v", got)
	}
	// The message retrieved is \Seen for IMAP.
	ctx := context.Background()
	s := env.GW.Store()
	u, _ := s.UserByAddress(ctx, mustAddr("alice@localhost"))
	mb, _ := s.MailboxByName(ctx, u.ID, "INBOX")
	msgs, _ := s.Messages(ctx, mb.ID)
	if len(msgs) != 1 || msgs[0].Flags&1 == 0 {
		t.Fatalf("retrieved message not \\Seen: %+v", msgs)
	}
}

func TestPipelinedCommands(t *testing.T) {
	env := start(t, loopbackPlain)
	deliver(t, env, "Subject: p1\r\n\r\nx\r\n", "Subject: p2\r\n\r\ny\r\n")
	c := dial(t, env.GW.Addr("pop3"))
	fmt.Fprintf(c.conn, "USER alice@localhost\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 2\r\nDELE 1\r\nQUIT\r\n", pw)
	for _, want := range []string{"+OK", "+OK maildrop", "+OK 2 "} {
		if l := c.line(); !strings.HasPrefix(l, want) {
			t.Fatalf("got %q, want %q", l, want)
		}
	}
	c.line()
	if got := c.multi(); len(got) != 2 {
		t.Fatalf("LIST %v", got)
	}
	if l := c.line(); !strings.HasPrefix(l, "+OK 2 ") {
		t.Fatalf("UIDL 2: %q", l)
	}
	c.line()
	if got := c.multi(); got[len(got)-1] != "y" {
		t.Fatalf("RETR 2: %v", got)
	}
	for _, want := range []string{"+OK message 1 deleted", "+OK "} {
		if l := c.line(); !strings.HasPrefix(l, want) {
			t.Fatalf("got %q, want %q", l, want)
		}
	}
	if n := inboxCount(t, env); n != 1 {
		t.Fatalf("%d left", n)
	}
}

func TestLockAndSnapshot(t *testing.T) {
	env, c := maildrop(t, "", 1)
	d := dial(t, env.GW.Addr("pop3"))
	d.ok("USER alice@localhost")
	if l := d.cmd("PASS %s", pw); !strings.HasPrefix(l, "-ERR [IN-USE]") {
		t.Fatalf("second session: %q", l)
	}
	// The lock also holds across the pop3s listener.
	tc, err := tls.Dial("tcp", env.GW.Addr("pop3s"), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	e := &client{t: t, conn: tc, r: bufio.NewReader(tc)}
	e.line()
	e.ok("USER alice@localhost")
	if l := e.cmd("PASS %s", pw); !strings.HasPrefix(l, "-ERR [IN-USE]") {
		t.Fatalf("pop3s while pop3 holds the lock: %q", l)
	}
	// Mail arriving during the session appears in the next one.
	deliver(t, env, "Subject: b\r\n\r\nb\r\n")
	if l := c.ok("STAT"); !strings.HasPrefix(l, "+OK 1 ") {
		t.Fatalf("snapshot changed: %q", l)
	}
	c.ok("QUIT")
	c2 := dial(t, env.GW.Addr("pop3"))
	c2.login()
	if l := c2.ok("STAT"); !strings.HasPrefix(l, "+OK 2 ") {
		t.Fatalf("next session: %q", l)
	}
}

func TestDisconnectWithoutQuitDeletesNothing(t *testing.T) {
	env, c := maildrop(t, "", 1)
	c.ok("DELE 1")
	c.conn.Close()
	// The lock is released when the session ends; then the message is still there.
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := dial(t, env.GW.Addr("pop3"))
		d.ok("USER alice@localhost")
		l := d.cmd("PASS %s", pw)
		if strings.HasPrefix(l, "+OK") {
			if s := d.ok("STAT"); !strings.HasPrefix(s, "+OK 1 ") {
				t.Fatalf("after disconnect: %q", s)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock not released: %q", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// maildrop starts a gateway where alice's POP3 mode is mode ("" leaves the default) and her
// maildrop holds n messages, and returns it with a session logged in as alice.
func maildrop(t *testing.T, mode string, n int) (*gatewaytest.Env, *client) {
	t.Helper()
	env := start(t, loopbackPlain)
	if mode != "" {
		if err := env.GW.Store().SetPolicy(context.Background(), "alice@localhost", map[string]string{"pop3.mode": mode}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= n; i++ {
		deliver(t, env, fmt.Sprintf("Subject: %d\r\n\r\n%d\r\n", i, i))
	}
	c := dial(t, env.GW.Addr("pop3"))
	c.login()
	return env, c
}

func TestModes(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		env, c := maildrop(t, "", 2)
		c.ok("RETR 1")
		c.multi()
		c.ok("RETR 2")
		c.multi()
		c.ok("DELE 2")
		c.ok("QUIT")
		if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 1 || got[0].UID != 1 {
			t.Fatalf("client mode: %v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		env, c := maildrop(t, "delete", 3)
		c.ok("RETR 1")
		c.multi()
		c.ok("TOP 2 0") // TOP is not retrieval
		c.multi()
		c.ok("QUIT")
		got := env.Mailbox("alice@localhost", "INBOX")
		if len(got) != 2 || got[0].UID != 2 {
			t.Fatalf("delete mode: %v", got)
		}
	})
	t.Run("keep", func(t *testing.T) {
		env, c := maildrop(t, "keep", 2)
		c.ok("UIDL 2")
		c.ok("DELE 1")
		c.ok("QUIT")
		if n := inboxCount(t, env); n != 2 {
			t.Fatalf("keep mode removed mail: %d left", n)
		}
		d := dial(t, env.GW.Addr("pop3"))
		d.login()
		if l := d.ok("STAT"); !strings.HasPrefix(l, "+OK 1 ") {
			t.Fatalf("hidden message still shown: %q", l)
		}
		d.ok("UIDL")
		if got := d.multi(); len(got) != 1 || !strings.HasSuffix(got[0], ".2") {
			t.Fatalf("UIDL after hide: %v", got)
		}
	})
}

func TestLimits(t *testing.T) {
	env := start(t, loopbackPlain, func(c *config.Config) { c.Limits.POP3IdleTimeout = config.Duration{Duration: 300 * time.Millisecond} })
	c := dial(t, env.GW.Addr("pop3"))
	if l := c.cmd("USER %s", strings.Repeat("a", 2000)); !strings.HasPrefix(l, "-ERR Command line too long") {
		t.Fatalf("long line: %q", l)
	}
	d := dial(t, env.GW.Addr("pop3"))
	if l := d.line(); !strings.HasPrefix(l, "-ERR [SYS/TEMP] Idle timeout") {
		t.Fatalf("idle: %q", l)
	}
}

const pythonPOP = `
import poplib, ssl, sys
addr, addrs, cafile, pw = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
h, p = addr.rsplit(":", 1)
m = poplib.POP3(h, int(p))
caps = m.capa()
assert "STLS" in caps and "USER" not in caps, caps
m.stls(context=ctx)
m.user("alice@localhost"); m.pass_(pw)
count, size = m.stat()
assert count == 3, count
resp, lines, octets = m.retr(2)
assert b"Subject: py2" in lines, lines
assert m.uidl(2).split()[2].endswith(b".2")
m.dele(1)
m.quit()
h, p = addrs.rsplit(":", 1)
s = poplib.POP3_SSL(h, int(p), context=ctx)
s.user("alice@localhost"); s.pass_(pw)
assert s.stat()[0] == 2
resp, lines, octets = s.top(1, 0)
assert b"Subject: py2" in lines and lines[-1] == b"", lines
s.quit()
print("ok")
`

func TestPythonPoplib(t *testing.T) {
	peertest.Require(t, "python3")
	env := start(t)
	deliver(t, env, "Subject: py1\r\n\r\n1\r\n", "Subject: py2\r\n\r\n2\r\n", "Subject: py3\r\n\r\n3\r\n")
	peertest.Python(t, pythonPOP, env.GW.Addr("pop3"), env.GW.Addr("pop3s"), filepath.Join(env.Dir, "tls", "cert.pem"), pw)
	if n := inboxCount(t, env); n != 2 {
		t.Fatalf("%d left after poplib DELE", n)
	}
}

// fetchmail, as users run it: with --keep it leaves mail on the server, without it deletes
// what it fetched. The MDA appends each message to a file.
func TestFetchmail(t *testing.T) {
	fm := peertest.Require(t, "fetchmail")
	env := start(t)
	deliver(t, env, "Subject: fm1\r\n\r\n1\r\n", "Subject: fm2\r\n\r\n2\r\n")
	home := t.TempDir()
	out := filepath.Join(home, "delivered")
	host, port, _ := net.SplitHostPort(env.GW.Addr("pop3s"))
	rc := filepath.Join(home, "fetchmailrc")
	os.WriteFile(rc, []byte(fmt.Sprintf(`poll %s service %s protocol POP3 timeout 20
  user "alice@localhost" password "%s" is "nobody" here
  ssl sslcertfile "%s" sslcertck sslcommonname "localhost"
  mda "/bin/sh -c 'cat >> %s'"
`, host, port, pw, filepath.Join(env.Dir, "tls", "cert.pem"), out)), 0o600)
	run := func(args ...string) {
		t.Helper()
		env := []string{"FETCHMAILHOME=" + home, "HOME=" + home}
		if _, errOut, err := peertest.Run(t, env, nil, fm, append([]string{"-f", rc, "--nosyslog"}, args...)...); err != nil {
			t.Fatalf("fetchmail %v: %v\n%s", args, err, errOut)
		}
	}
	run("--keep")
	b, _ := os.ReadFile(out)
	if strings.Count(string(b), "Subject: fm") != 2 || inboxCount(t, env) != 2 {
		t.Fatalf("keep: delivered %d, left %d", strings.Count(string(b), "Subject: fm"), inboxCount(t, env))
	}
	run("--all") // fetch again, including what --keep left (fetchmail remembers UIDLs as seen)
	b, _ = os.ReadFile(out)
	if strings.Count(string(b), "Subject: fm") != 4 || inboxCount(t, env) != 0 {
		t.Fatalf("delete: delivered %d, left %d", strings.Count(string(b), "Subject: fm"), inboxCount(t, env))
	}
}

func mustAddr(s string) address.Address {
	a, err := address.Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}
