package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

// TestKill9RelayDomainMailWaitsForNextHop runs the real binary in gateway mode. The relay
// domain's next hop (the organisation's own server) is down: mail from the Internet is still
// answered 250 and queued. The server is killed with SIGKILL, restarted, the next hop comes
// back, and after `queue flush` every message arrives there exactly once.
func TestKill9RelayDomainMailWaitsForNextHop(t *testing.T) {
	bin := buildBinary(t)
	hop := wiretest.FreeAddr(t) // nothing listens here until the next hop comes back
	smtpAddr := wiretest.FreeAddr(t)
	dataDir := newDataDir(t, listen{smtp: smtpAddr}.String()+fmt.Sprintf("[relay.domains]\n\"corp.test\" = %q\n", hop))
	sealgate := func(args ...string) string {
		t.Helper()
		return runCLI(t, bin, dataDir, "", args...)
	}
	srv := startServer(t, bin, dataDir, smtpAddr)
	const n = 5
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("From: sender@outside.test\r\nSubject: down-%d\r\n\r\nwhile the next hop is down\r\n", i)
		c, err := smtp.Dial(smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SendMail("sender@outside.test", []string{"alice@corp.test"}, strings.NewReader(msg)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		c.Close()
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	var q []json.RawMessage
	if err := json.Unmarshal([]byte(sealgate("queue", "list", "--json")), &q); err != nil || len(q) != n {
		t.Fatalf("after the kill the queue holds %d messages (%v), want %d", len(q), err, n)
	}

	internal := deliverytest.Start(t, deliverytest.Options{Addr: hop, KnownRecipients: []string{"alice@corp.test"}})
	srv = startServer(t, bin, dataDir, smtpAddr)
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
	sealgate("queue", "flush")
	if !internal.Wait(30*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) >= n }) {
		t.Fatalf("the next hop got %d messages\n%s", len(internal.Received()), srv.logs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sealgate("queue", "list", "--json") != "[]\n" {
		if time.Now().After(deadline) {
			t.Fatal("queue not empty")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sealgate("queue", "flush")
	count := map[string]int{}
	for _, m := range internal.Received() {
		for i := 0; i < n; i++ {
			if strings.Contains(string(m.Body), fmt.Sprintf("Subject: down-%d\r\n", i)) {
				count[fmt.Sprintf("down-%d", i)]++
			}
		}
		if strings.Count(string(m.Body), "Sealgate-Security:") != 1 {
			t.Errorf("relayed copy without its one Sealgate-Security header:\n%s", m.Body)
		}
	}
	for i := 0; i < n; i++ {
		if c := count[fmt.Sprintf("down-%d", i)]; c != 1 {
			t.Errorf("down-%d delivered %d times", i, c)
		}
	}
}
