package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

const alicePW = "alice-password"

// eventually polls cond; the timeout only ends a broken test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func queueEmpty(t *testing.T, env *gatewaytest.Env) func() bool {
	return func() bool {
		q, err := env.Embedded().QueueEntries(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return len(q) == 0
	}
}

func metrics(t *testing.T, env *gatewaytest.Env) string {
	t.Helper()
	resp, err := http.Get("http://" + env.GW.Addr("http") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSubmittedMailReachesRemotePeer(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{TLS: true})
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Auth.PlaintextOnLoopback = true
		c.Outbound.Routes = map[string]string{"remote.test": peer.Addr}
	})
	env.AddUser("alice@localhost", alicePW)
	env.AddUser("bob@localhost", "bob-password")
	msg := "From: alice@localhost\r\nTo: carol@remote.test, bob@localhost\r\nSubject: out\r\n\r\nHello Carol.\r\n"
	env.Submit("alice@localhost", alicePW, []string{"carol@remote.test", "dave@remote.test", "bob@localhost"}, msg)
	peer.WaitReceived(t, 1)
	got := peer.Received()[0]
	if got.From != "alice@localhost" || len(got.To) != 2 || !got.TLS {
		t.Fatalf("peer got %+v", got)
	}
	body := string(got.Body)
	if !strings.HasPrefix(body, "Received: ") || !strings.HasSuffix(body, msg) || strings.Contains(body, "Return-Path") {
		t.Fatalf("relayed body:\n%s", body)
	}
	// The local recipient got its copy directly, not through the queue.
	if n := len(env.Mailbox("bob@localhost", "INBOX")); n != 1 {
		t.Fatalf("bob has %d messages", n)
	}
	eventually(t, "empty queue", queueEmpty(t, env))
	m := metrics(t, env)
	for _, want := range []string{`sealgate_queue_deliveries_total{result="delivered"} 2`, "sealgate_queue_messages 0", "sealgate_queue_delivery_latency_seconds_count 2"} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
}

func TestRejectedRecipientBouncesToSenderInbox(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	peer.SetRcptReply("nobody@remote.test", 550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"remote.test": peer.Addr}
	})
	env.AddUser("alice@localhost", alicePW)
	env.Submit("alice@localhost", alicePW, []string{"nobody@remote.test"}, "From: alice@localhost\r\nSubject: to nobody\r\n\r\nhi\r\n")
	eventually(t, "the bounce", func() bool { return len(env.Mailbox("alice@localhost", "INBOX")) == 1 })
	dsn := string(env.Mailbox("alice@localhost", "INBOX")[0].Body)
	for _, want := range []string{
		"Content-Type: multipart/report; report-type=delivery-status;",
		"Final-Recipient: rfc822; nobody@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n",
		"Diagnostic-Code: smtp; 550 5.1.1 No such user here\r\n",
		"Content-Type: text/rfc822-headers\r\n\r\nReceived: ",
		"Subject: to nobody\r\n",
	} {
		if !strings.Contains(dsn, want) {
			t.Fatalf("DSN lacks %q:\n%s", want, dsn)
		}
	}
	eventually(t, "empty queue", queueEmpty(t, env))
}
