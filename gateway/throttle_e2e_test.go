package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
)

// loginProto is one protocol's login, tried from a given local address, with the replies
// that mean success and "throttled".
type loginProto struct {
	name              string
	ok, throttled     string
	login             func(t *testing.T, env *gatewaytest.Env, local, user, pw string) string
	wrongPasswordSeen string // the reply to a wrong password
}

var loginProtos = []loginProto{
	{name: "imap", ok: "a OK", throttled: "a NO [UNAVAILABLE]", wrongPasswordSeen: "a NO [AUTHENTICATIONFAILED]", login: imapTry},
	{name: "smtp", ok: "235 ", throttled: "454 4.7.0", wrongPasswordSeen: "535 ", login: smtpTry},
	{name: "pop3", ok: "+OK", throttled: "-ERR [LOGIN-DELAY]", wrongPasswordSeen: "-ERR", login: pop3Try},
	{name: "webmail", ok: "303", throttled: "429", wrongPasswordSeen: "401", login: webTry},
}

func tlsFrom(t *testing.T, env *gatewaytest.Env, local, listener string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.DialWithDialer(wiretest.DialerFrom(local), "tcp", env.GW.Addr(listener), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c, bufio.NewReader(c)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (%q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func imapTry(t *testing.T, env *gatewaytest.Env, local, user, pw string) string {
	c, r := tlsFrom(t, env, local, "imaps")
	defer c.Close()
	readLine(t, r)
	fmt.Fprintf(c, "a LOGIN %s %s\r\n", user, pw)
	for {
		if l := readLine(t, r); strings.HasPrefix(l, "a ") {
			return l
		}
	}
}

func smtpTry(t *testing.T, env *gatewaytest.Env, local, user, pw string) string {
	c, r := tlsFrom(t, env, local, "submissions")
	defer c.Close()
	readLine(t, r)
	fmt.Fprintf(c, "EHLO client.example.org\r\n")
	for l := readLine(t, r); strings.HasPrefix(l, "250-"); l = readLine(t, r) {
	}
	fmt.Fprintf(c, "AUTH PLAIN %s\r\n", base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pw)))
	return readLine(t, r)
}

func pop3Try(t *testing.T, env *gatewaytest.Env, local, user, pw string) string {
	c, r := tlsFrom(t, env, local, "pop3s")
	defer c.Close()
	readLine(t, r)
	fmt.Fprintf(c, "USER %s\r\n", user)
	readLine(t, r)
	fmt.Fprintf(c, "PASS %s\r\n", pw)
	return readLine(t, r)
}

func webTry(t *testing.T, env *gatewaytest.Env, local, user, pw string) string {
	code, _ := webLogin(t, local, "http://"+env.GW.Addr("http"), nil, user, pw)
	return fmt.Sprint(code)
}

var fastThrottle = gateway.Options{LoginThrottle: auth.ThrottleOptions{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}}

func plainWebOnLoopback(c *config.Config) { c.Auth.PlaintextOnLoopback = true }

// An attacker guessing alice's password from 127.0.0.2 is slowed and then throttled, with
// a reply that says so (not "wrong password"), on every protocol; alice logs in from
// 127.0.0.1 at once on every protocol all the same.
func TestLoginGuessingLocksNobodyOut(t *testing.T) {
	env := gatewaytest.StartWith(t, fastThrottle, plainWebOnLoopback)
	const user, pw = "alice@localhost", "alice-right-pw"
	env.AddUser(user, pw)
	throttled := map[string]bool{}
	for i := range 50 {
		p := loginProtos[i%len(loginProtos)]
		got := p.login(t, env, "127.0.0.2", user, fmt.Sprint("guess", i))
		switch {
		case strings.HasPrefix(got, p.throttled):
			throttled[p.name] = true
		case !strings.HasPrefix(got, p.wrongPasswordSeen):
			t.Fatalf("guess %d over %s: %q", i, p.name, got)
		}
	}
	for _, p := range loginProtos {
		if !throttled[p.name] {
			t.Errorf("%s never answered the guessing network as throttled", p.name)
		}
		if got := p.login(t, env, "127.0.0.1", user, pw); !strings.HasPrefix(got, p.ok) {
			t.Errorf("%s: alice from her own address: %q, want %q", p.name, got, p.ok)
		}
		if got := p.login(t, env, "127.0.0.2", user, pw); !strings.HasPrefix(got, p.throttled) {
			t.Errorf("%s: the guessing network, even with the right password: %q, want %q", p.name, got, p.throttled)
		}
	}
}

// With PostgreSQL the counts are shared: guessing through one node throttles the guessing
// network on the other, and alice still logs in there.
func TestLoginThrottleSharedAcrossNodes(t *testing.T) {
	storage := config.Storage{Backend: config.BackendPostgres, DSN: pgtest.DSN(t)}
	if err := gateway.MigrateStorage(context.Background(), storage); err != nil {
		t.Fatal(err)
	}
	opts := fastThrottle
	opts.MasterKeyFile = filepath.Join(t.TempDir(), "master.key")
	a := gatewaytest.StartWith(t, opts, func(c *config.Config) { c.Storage = storage })
	b := gatewaytest.StartWith(t, opts, func(c *config.Config) { c.Storage = storage })
	const user, pw = "alice@localhost", "alice-right-pw"
	a.AddUser(user, pw)
	for i := range 12 {
		imapTry(t, a, "127.0.0.2", user, fmt.Sprint("guess", i))
	}
	if got := imapTry(t, b, "127.0.0.2", user, pw); !strings.HasPrefix(got, "a NO [UNAVAILABLE]") {
		t.Fatalf("the guessing network on the other node: %q", got)
	}
	if got := imapTry(t, b, "127.0.0.1", user, pw); !strings.HasPrefix(got, "a OK") {
		t.Fatalf("alice on the other node: %q", got)
	}
}
