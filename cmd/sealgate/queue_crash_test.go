package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

// TestKill9DuringDeliveryLosesAndDuplicatesNothing runs the real binary with a route to a real
// SMTP peer. Messages delivered before the kill are committed as delivered; one message is in
// the middle of DATA (the peer holds its reply) when the server is killed with SIGKILL; one is
// partly delivered (one recipient's domain answers 4xx). After a restart and `queue flush`
// from the command line, every recipient has every message exactly once.
func TestKill9DuringDeliveryLosesAndDuplicatesNothing(t *testing.T) {
	bin := buildBinary(t)
	peer := deliverytest.Start(t, deliverytest.Options{})
	smtpAddr, subAddr := wiretest.FreeAddr(t), wiretest.FreeAddr(t)
	dataDir := newDataDir(t, fmt.Sprintf(`[auth]
plaintext_on_loopback = true
[outbound.routes]
"remote.test" = %q
"other.test" = %q
`, peer.Addr, peer.Addr)+listen{smtp: smtpAddr, submission: subAddr}.String())
	sealgate := func(stdin string, args ...string) string {
		t.Helper()
		return runCLI(t, bin, dataDir, stdin, args...)
	}
	queueLen := func() int {
		var q []json.RawMessage
		out := sealgate("", "queue", "list", "--json")
		if err := json.Unmarshal([]byte(out), &q); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		return len(q)
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // ends a broken test only
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sealgate("pw\n", "user", "add", "alice@localhost", "--password-stdin")

	// The peer holds its reply to the message "held-in-data" the first time, until the test
	// has killed the server; it then finds the client gone and takes nothing.
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	peer.SetBeforeDataReply(func(c net.Conn, m deliverytest.Received) error {
		if !bytes.Contains(m.Body, []byte("Subject: held-in-data\r\n")) {
			return nil
		}
		first := false
		once.Do(func() { first = true })
		if !first {
			return nil
		}
		close(blocked)
		<-release
		if deliverytest.ClientGone(c) {
			return fmt.Errorf("client gone")
		}
		return nil
	})
	peer.SetRcptReply("dave@other.test", 451, smtp.EnhancedCode{4, 3, 0}, "not now")

	srv := startServer(t, bin, dataDir, smtpAddr)
	submit := func(subject string, rcpts ...string) {
		t.Helper()
		c, err := smtp.Dial(subAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", "alice@localhost", "pw")); err != nil {
			t.Fatal(err)
		}
		msg := "From: alice@localhost\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
		if err := c.SendMail("alice@localhost", rcpts, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		submit(fmt.Sprintf("before-%d", i), "bob@remote.test", "carol@remote.test")
	}
	submit("partial", "bob@remote.test", "dave@other.test")
	// Everything but dave@other.test is committed as delivered before the kill.
	wait("deliveries committed", func() bool {
		out := sealgate("", "queue", "list")
		return strings.Count(out, "\n") == 1 && strings.Contains(out, "bob@remote.test:delivered dave@other.test:pending")
	})

	submit("held-in-data", "bob@remote.test")
	<-blocked
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	close(release)

	peer.SetRcptReply("dave@other.test", 0, smtp.EnhancedCode{}, "")
	srv = startServer(t, bin, dataDir, smtpAddr)
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
	sealgate("", "queue", "flush") // dave's retry is minutes away otherwise
	wait("empty queue", func() bool { return queueLen() == 0 })

	count := map[string]int{}
	subj := regexp.MustCompile(`Subject: (\S+)\r\n`)
	for _, m := range peer.Received() {
		s := subj.FindSubmatch(m.Body)
		if s == nil {
			t.Fatalf("message without subject: %q", m.Body)
		}
		for _, r := range m.To {
			count[string(s[1])+" "+r]++
		}
	}
	want := map[string]int{"partial bob@remote.test": 1, "partial dave@other.test": 1, "held-in-data bob@remote.test": 1}
	for i := 0; i < 5; i++ {
		want[fmt.Sprintf("before-%d bob@remote.test", i)] = 1
		want[fmt.Sprintf("before-%d carol@remote.test", i)] = 1
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s delivered %d times", k, count[k])
		}
	}
	if len(count) != len(want) {
		t.Errorf("unexpected deliveries: %v", count)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", srv.logs)
	}
}
