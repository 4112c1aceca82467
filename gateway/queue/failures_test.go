package queue_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// enqueueMessage spools msg as it is, from sender to rcpts.
func (e *env) enqueueMessage(sender, msg string, rcpts ...string) int64 {
	e.t.Helper()
	d, err := e.store.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
		Body: body(msg), Outbound: &mailstore.Outbound{Sender: sender, Recipients: rcpts},
	}}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.runner.Wake()
	return d.QueueIDs[0]
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestFailuresBeforeRecipientsBounceAtOnce has next hops fail the whole message in every
// permanent way (a 5xx greeting or reply to MAIL, a domain that does not exist or publishes a
// null MX, a peer that cannot take 8-bit or UTF-8 content or the message's size) and checks
// that each message bounces on its first attempt, with a DSN naming every recipient.
func TestFailuresBeforeRecipientsBounceAtOnce(t *testing.T) {
	route := func(o deliverytest.RawOptions) string { return deliverytest.StartRaw(t, o).Addr }
	dns := dnstest.Start(t, dnstest.Zone{"nullmx.test. MX": {"0 ."}})
	var logs gatewaytest.LogBuffer
	e := start(t, envOpts{resolver: dns.Resolver(), logs: &logs, extraRoutes: []string{"other.test"}, routes: map[string]string{
		"mail550.test":  route(deliverytest.RawOptions{Mail: "550 5.7.1 Sender refused"}),
		"greet554.test": route(deliverytest.RawOptions{Greeting: "554 5.3.2 No mail service here"}),
		"no8bit.test":   route(deliverytest.RawOptions{Extensions: []string{"PIPELINING"}}),
		"noutf8.test":   route(deliverytest.RawOptions{}),
		"small.test":    route(deliverytest.RawOptions{Extensions: []string{"8BITMIME", "SIZE 64"}}),
	}})
	const plain = "From: alice@localhost\r\nSubject: %s\r\n\r\nplain body, long enough to pass SIZE 64 of the small peer\r\n"
	for _, tc := range []struct {
		domain, msg, status, diag string
	}{
		{"mail550.test", plain, "5.7.1", "smtp; 550 5.7.1 Sender refused"},
		{"greet554.test", plain, "5.3.2", "smtp; 554 5.3.2 No mail service here"},
		{"nowhere.test", plain, "5.1.2", "domain not found"},
		{"nullmx.test", plain, "5.1.10", "null MX"},
		{"no8bit.test", "From: alice@localhost\r\nSubject: %s\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n", "5.6.3", "8BITMIME"},
		{"noutf8.test", "From: J\xc3\xbcrgen <alice@localhost>\r\nSubject: %s\r\n\r\nx\r\n", "5.6.7", "SMTPUTF8"},
		{"small.test", plain, "5.3.4", "larger than"},
	} {
		t.Log(tc.domain) // no subtests: e's helpers stop the whole test
		rcpts := []string{"bob@" + tc.domain, "carol@" + tc.domain}
		before := len(e.inbox())
		id := e.enqueueMessage("alice@localhost", strings.Replace(tc.msg, "%s", tc.domain, 1), rcpts...)
		e.eventually("the bounce", func() bool { _, ok := e.entry(id); return !ok })
		in := e.inbox()
		if len(in) != before+1 {
			t.Fatalf("alice has %d new messages, want one DSN", len(in)-before)
		}
		d := parseDSN(t, in[len(in)-1].Body)
		if len(d.recipients) != 2 {
			t.Fatalf("DSN names %d recipients: %v", len(d.recipients), d.recipients)
		}
		for i, r := range d.recipients {
			if r.Get("Final-Recipient") != "rfc822; "+rcpts[i] || r.Get("Action") != "failed" || r.Get("Status") != tc.status ||
				!strings.Contains(r.Get("Diagnostic-Code"), tc.diag) {
				t.Fatalf("recipient fields %v", r)
			}
		}
		if d.returned.Get("Subject") != tc.domain {
			t.Fatalf("returned header %v", d.returned)
		}
		for _, rc := range rcpts {
			if !strings.Contains(logs.String(), "rcpt="+rc+" result=failed status="+tc.status) {
				t.Fatalf("no log line for %s:\n%s", rc, logs.String())
			}
		}
	}
	// A remote sender's DSN is spooled to it with the null sender, and delivered.
	e.enqueueMessage("someone@other.test", strings.Replace(plain, "%s", "afar", 1), "bob@mail550.test", "carol@nowhere.test")
	if !e.peer.Wait(15*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) == 1 }) {
		t.Fatal("the DSN did not reach the remote sender")
	}
	got := e.peer.Received()[0]
	if d := parseDSN(t, got.Body); got.From != "" || len(d.recipients) != 2 || d.returned.Get("Subject") != "afar" {
		t.Fatalf("the DSN to the remote sender: %q → %q %+v", got.From, got.To, d)
	}
	e.eventually("empty queue", func() bool { q, _ := e.store.QueueEntries(context.Background()); return len(q) == 0 })
}

// TestTemporaryFailuresAreRecordedAndRetried has next hops fail temporarily before any
// recipient is accepted and checks that each recipient keeps the reason, the entry is retried
// after the backoff, and the runner logs it.
func TestTemporaryFailuresAreRecordedAndRetried(t *testing.T) {
	route := func(o deliverytest.RawOptions) string { return deliverytest.StartRaw(t, o).Addr }
	// A peer that accepts connections and never greets.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		silent.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	dns := dnstest.Start(t, dnstest.Zone{"SERVFAIL": {"servfail.test."}})
	var logs gatewaytest.LogBuffer
	e := start(t, envOpts{resolver: dns.Resolver(), logs: &logs, commandTimeout: 200 * time.Millisecond, routes: map[string]string{
		"greet421.test": route(deliverytest.RawOptions{Greeting: "421 4.3.2 Too busy, come back later"}),
		"mail451.test":  route(deliverytest.RawOptions{Mail: "451 4.3.0 Local error in processing"}),
		"refused.test":  closedPort(t),
		"silent.test":   silent.Addr().String(),
	}})
	for _, tc := range []struct{ domain, lastError string }{
		{"greet421.test", "4.3.2 127.0.0.1: 421 4.3.2 Too busy, come back later"},
		{"mail451.test", "4.3.0 127.0.0.1: 451 4.3.0 Local error in processing"},
		{"refused.test", "4.4.1 127.0.0.1: connect to 127.0.0.1:"},
		{"silent.test", "4.4.2 127.0.0.1: timeout waiting for 127.0.0.1"},
		{"servfail.test", "4.4.3 -: MX lookup for servfail.test:"},
	} {
		t.Log(tc.domain) // no subtests: e's helpers stop the whole test
		rcpts := []string{"bob@" + tc.domain, "carol@" + tc.domain}
		now := e.clock.Now()
		id := e.enqueue("alice@localhost", tc.domain, rcpts...)
		e.eventually("the first attempt", func() bool { q, _ := e.entry(id); return q.Attempts == 1 })
		q, _ := e.entry(id)
		if !strings.HasPrefix(q.LastError, tc.lastError) || q.NextAttempt.Unix() != now.Add(time.Minute).Unix() {
			t.Fatalf("entry %+v", q)
		}
		for _, r := range q.Recipients {
			if r.State != mailstore.RcptPending || !strings.HasPrefix(r.LastError, tc.lastError) {
				t.Fatalf("recipient %+v, want pending with %q", r, tc.lastError)
			}
			if !strings.Contains(logs.String(), "rcpt="+r.Address+" result=deferred") {
				t.Fatalf("no log line for %s:\n%s", r.Address, logs.String())
			}
		}
	}
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("alice has %d messages; a temporary failure bounced", n)
	}
}
