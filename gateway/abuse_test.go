package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/keys"
)

// dialFrom opens a TCP connection from a given loopback address and reads the greeting.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	c := wiretest.DialFrom(t, local, addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatalf("no greeting from %s: %v", addr, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// TestIdleConnectionsKeepMemoryBounded holds 500 idle connections (SMTP, IMAP, POP3, from five
// client addresses so the per-address limit of 100 is not what stops them) and checks that the
// gateway's memory grows by a bounded amount per connection.
func TestIdleConnectionsKeepMemoryBounded(t *testing.T) {
	env := gatewaytest.Start(t)
	before := heapInUse()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	listeners := []string{"smtp", "imap", "pop3"}
	for i := 0; i < 500; i++ {
		local := fmt.Sprintf("127.0.0.%d", 2+i/100)
		conns = append(conns, dialFrom(t, local, env.GW.Addr(listeners[i%3])))
	}
	grown := int64(heapInUse()) - int64(before)
	per := grown / 500
	t.Logf("500 idle connections: heap and stacks grew %d KiB (%d KiB each)", grown>>10, per>>10)
	if per > 128<<10 {
		t.Fatalf("each idle connection costs %d KiB", per>>10)
	}
	// The 101st connection from one address is refused.
	c := dialFrom(t, "127.0.0.9", env.GW.Addr("smtp"))
	conns = append(conns, c)
	for i := 0; i < 99; i++ {
		conns = append(conns, dialFrom(t, "127.0.0.9", env.GW.Addr("smtp")))
	}
	x := wiretest.DialFrom(t, "127.0.0.9", env.GW.Addr("smtp"))
	x.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(x).ReadString('\n')
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Fatalf("connection over the limit: %q", line)
	}
}

// TestLogsHoldNoSecrets runs logins (right and wrong) over SMTP, IMAP and POP3, decrypts and
// encrypts mail with gateway-held keys, and then reads the whole log: no password, no
// plaintext of encrypted mail and no private key may be in it.
func TestLogsHoldNoSecrets(t *testing.T) {
	env, admin := securityEnv(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	ctx := context.Background()
	generatePGP(t, admin, "bob@localhost", keys.PGPOptions{})
	secret, err := admin.ExportPGP(ctx, "bob@localhost", true)
	if err != nil {
		t.Fatal(err)
	}
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "pgp")
	const wrong = "Wrong-Passw0rd-XYZ"
	const marker = "Top-Secret-Plaintext-In-Logs-Test"
	// SMTP AUTH, wrong then right.
	c, err := smtp.Dial(env.GW.Addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	c.Hello("client")
	c.Auth(sasl.NewPlainClient("", "bob@localhost", wrong))
	if err := c.Auth(sasl.NewPlainClient("", "bob@localhost", bobPW)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// IMAP and POP3 logins.
	imapAndPOP3Logins(t, env, "bob@localhost", wrong)
	// Mail that is encrypted at rest.
	mustMX(t, env, "x@outside.test", "bob@localhost", []byte("Subject: s\r\n\r\n"+marker+"\r\n"))
	logs := env.Log.String()
	if !strings.Contains(logs, "message stored") || !strings.Contains(logs, "result=failed") {
		t.Fatalf("the log does not show the run (nothing to check):\n%s", logs)
	}
	for _, s := range []string{wrong, bobPW, marker, "PRIVATE KEY", string(secret[40:80])} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q", s)
		}
	}
}
