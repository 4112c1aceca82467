package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestSMTPSessions: the SMTP client of send and deliver against the real gateway: a large
// message, then a pipelined session that delivers a maildir's messages (one dot-stuffed).
func TestSMTPSessions(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("bench@localhost", "pw-bench-1")
	addr := env.GW.Addr("smtp")
	if err := sendLarge(addr, "bench@localhost", 1<<20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var names []string
	for i := range 3 {
		name := filepath.Join(dir, fmt.Sprint(i))
		msg := fmt.Sprintf("From: sender@example.org\r\nSubject: %d\r\n\r\n.leading dot\r\nbody\r\n", i)
		if err := os.WriteFile(name, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := deliverSession(addr, "bench@localhost", names, new(atomic.Int64)); err != nil {
		t.Fatal(err)
	}
	if n := len(env.Mailbox("bench@localhost", "INBOX")); n != 4 {
		t.Fatalf("INBOX holds %d messages, want 4", n)
	}
}
