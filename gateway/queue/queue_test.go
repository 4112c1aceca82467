package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/testclock"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/queue"
)

type body []byte

func (b body) Size() int64          { return int64(len(b)) }
func (b body) NewReader() io.Reader { return bytes.NewReader(b) }

type env struct {
	t      *testing.T
	store  *mailstore.Store
	peer   *deliverytest.Peer
	clock  *testclock.Clock
	runner *queue.Runner
	reg    *prometheus.Registry
}

type envOpts struct {
	lifetime     time.Duration
	delayWarning time.Duration
	perDomain    int
	extraRoutes  []string
	// routes add domains with their own next hop ("host:port"); resolver answers MX and
	// address lookups for the rest; commandTimeout bounds each reply (0: the default); logs
	// receives the runner's log.
	routes         map[string]string
	resolver       delivery.Resolver
	commandTimeout time.Duration
	logs           io.Writer
}

func start(t *testing.T, o envOpts) *env {
	t.Helper()
	// The store and the runner share the test's clock: an entry queued "now" is due "now".
	clk := testclock.New(time.Now())
	store, err := mailstore.Open(t.TempDir(), mailstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a, _ := address.Parse("alice@localhost")
	if _, err := store.AddUser(context.Background(), a, "x"); err != nil {
		t.Fatal(err)
	}
	peer := deliverytest.Start(t, deliverytest.Options{SMTPUTF8: true})
	routes := map[string]delivery.Route{"remote.test": {Addr: peer.Addr}}
	for _, d := range o.extraRoutes {
		routes[d] = delivery.Route{Addr: peer.Addr}
	}
	for d, addr := range o.routes {
		routes[d] = delivery.Route{Addr: addr}
	}
	if o.logs == nil {
		o.logs = io.Discard
	}
	if o.lifetime == 0 {
		o.lifetime = 10 * time.Minute
	}
	reg := prometheus.NewRegistry()
	r, err := queue.New(queue.Options{
		Store: store,
		Deliverer: delivery.New(delivery.Options{Hostname: "mx.example.test", Routes: routes,
			Resolver: o.resolver, CommandTimeout: o.commandTimeout}),
		Hostname:      "mx.example.test",
		IsLocalDomain: func(d string) bool { return d == "localhost" },
		Lifetime:      o.lifetime,
		DelayWarning:  o.delayWarning,
		MinBackoff:    time.Minute,
		MaxBackoff:    4 * time.Minute,
		MaxPerDomain:  o.perDomain,
		PollInterval:  20 * time.Millisecond,
		Now:           clk.Now,
		Logger:        slog.New(slog.NewTextHandler(o.logs, nil)),
		Registerer:    reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, store: store, peer: peer, clock: clk, runner: r, reg: reg}
}

func (e *env) enqueue(sender, subject string, rcpts ...string) int64 {
	e.t.Helper()
	msg := "From: " + sender + "\r\nTo: " + strings.Join(rcpts, ", ") + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@localhost>\r\n\r\nbody of " + subject + "\r\n"
	return e.enqueueMessage(sender, msg, rcpts...)
}

// eventually polls cond; the timeout only ends a broken test.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) entry(id int64) (mailstore.QueueEntry, bool) {
	q, err := e.store.QueueEntry(context.Background(), id)
	if err == mailstore.ErrNotFound {
		return q, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return q, true
}

func (e *env) scans() float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sealgate_queue_scans_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	e.t.Fatal("no scan counter")
	return 0
}

// settle waits until the runner has made at least two full scans at the current clock.
func (e *env) settle() {
	e.t.Helper()
	n := e.scans()
	e.runner.Wake()
	e.eventually("two scans", func() bool { return e.scans() >= n+2 })
}

func (e *env) inbox() []gatewaytest.Stored {
	return gatewaytest.ReadMailbox(e.t, e.store, "alice@localhost", "INBOX")
}

// dsn parses a delivery status notification and returns its parts: the human text, the
// per-message and per-recipient fields, and the returned header.
type dsn struct {
	header     mail.Header
	text       string
	perMessage textproto.MIMEHeader
	recipients []textproto.MIMEHeader
	returned   mail.Header
}

func parseDSN(t *testing.T, raw []byte) dsn {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("DSN content type %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var d dsn
	d.header = m.Header
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i != 3 {
				t.Fatalf("DSN has %d parts", i)
			}
			return d
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		ct := p.Header.Get("Content-Type")
		switch i {
		case 0:
			d.text = string(data)
		case 1:
			if ct != "message/delivery-status" {
				t.Fatalf("second part %q", ct)
			}
			tr := textproto.NewReader(bufioReader(data))
			if d.perMessage, err = tr.ReadMIMEHeader(); err != nil {
				t.Fatal(err)
			}
			for {
				h, err := tr.ReadMIMEHeader()
				if len(h) > 0 {
					d.recipients = append(d.recipients, h)
				}
				if err != nil {
					break
				}
			}
		case 2:
			if ct != "text/rfc822-headers" {
				t.Fatalf("third part %q", ct)
			}
			rm, err := mail.ReadMessage(bytes.NewReader(append(data, "\r\n"...)))
			if err != nil {
				t.Fatal(err)
			}
			d.returned = rm.Header
		}
	}
}

func TestRetriesBackOffThenBounceAfterLifetime(t *testing.T) {
	e := start(t, envOpts{lifetime: 10 * time.Minute})
	e.peer.SetRcptReply("bob@remote.test", 451, smtp.EnhancedCode{4, 3, 0}, "Try again later")
	id := e.enqueue("alice@localhost", "retry-me", "bob@remote.test")
	q, _ := e.entry(id)
	created := q.Created
	// Attempts at 0, +1m, +3m, +7m (backoff doubling, capped at 4m), then the lifetime's end.
	wantGaps := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute}
	at := e.clock.Now()
	for i, gap := range wantGaps {
		e.eventually("attempt", func() bool { q, _ := e.entry(id); return q.Attempts == i+1 })
		q, _ := e.entry(id)
		if want := at.Add(gap).Unix(); q.NextAttempt.Unix() != want {
			t.Fatalf("attempt %d: next attempt %v, want %v", i+1, q.NextAttempt, time.Unix(want, 0))
		}
		if q.Recipients[0].State != mailstore.RcptPending || !strings.HasPrefix(q.Recipients[0].LastError, "4.3.0 127.0.0.1: 451 4.3.0 Try again later") {
			t.Fatalf("entry %+v", q)
		}
		if n := e.peer.RcptAttempts("bob@remote.test"); n != i+1 {
			t.Fatalf("peer saw %d attempts, want %d", n, i+1)
		}
		// Not yet due: nothing happens.
		e.clock.AdvanceTo(q.NextAttempt.Add(-time.Second))
		e.settle()
		if n := e.peer.RcptAttempts("bob@remote.test"); n != i+1 {
			t.Fatalf("early attempt: peer saw %d", n)
		}
		at = q.NextAttempt
		e.clock.AdvanceTo(at)
		e.runner.Wake()
	}
	e.eventually("4th attempt", func() bool { q, _ := e.entry(id); return q.Attempts == 4 })
	q, _ = e.entry(id)
	if want := created.Add(10 * time.Minute).Unix(); q.NextAttempt.Unix() != want {
		t.Fatalf("last attempt at %v, want the lifetime's end %v", q.NextAttempt, time.Unix(want, 0))
	}
	e.clock.AdvanceTo(q.NextAttempt)
	e.runner.Wake()
	e.eventually("bounce", func() bool { _, ok := e.entry(id); return !ok })
	if n := e.peer.RcptAttempts("bob@remote.test"); n != 5 {
		t.Fatalf("peer saw %d attempts", n)
	}
	in := e.inbox()
	if len(in) != 1 {
		t.Fatalf("alice has %d messages", len(in))
	}
	d := parseDSN(t, in[0].Body)
	if len(d.recipients) != 1 {
		t.Fatalf("recipients %v", d.recipients)
	}
	r := d.recipients[0]
	if r.Get("Final-Recipient") != "rfc822; bob@remote.test" || r.Get("Action") != "failed" || r.Get("Status") != "4.3.0" ||
		!strings.Contains(r.Get("Diagnostic-Code"), "delivery time expired") || r.Get("Remote-MTA") != "dns; 127.0.0.1" {
		t.Fatalf("recipient fields %v", r)
	}
	if d.returned.Get("Subject") != "retry-me" || d.header.Get("Auto-Submitted") != "auto-replied" {
		t.Fatalf("returned header %v", d.returned)
	}
	// Retries stop: the entry is gone, later scans send nothing.
	e.clock.AdvanceTo(e.clock.Now().Add(24 * time.Hour))
	e.settle()
	if n := e.peer.RcptAttempts("bob@remote.test"); n != 5 {
		t.Fatalf("peer saw %d attempts after the bounce", n)
	}
}

func TestPermanentFailureBouncesAtOncePartialDeliveryCompletes(t *testing.T) {
	e := start(t, envOpts{})
	e.peer.SetRcptReply("nobody@remote.test", 550, smtp.EnhancedCode{5, 1, 1}, "No such user")
	e.peer.SetRcptReply("busy@remote.test", 452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")
	id := e.enqueue("alice@localhost", "partial", "bob@remote.test", "nobody@remote.test", "busy@remote.test")
	e.eventually("first attempt", func() bool { q, ok := e.entry(id); return ok && q.Attempts == 1 })
	q, _ := e.entry(id)
	states := map[string]string{}
	for _, r := range q.Recipients {
		states[r.Address] = r.State
	}
	if states["bob@remote.test"] != "delivered" || states["nobody@remote.test"] != "failed" || states["busy@remote.test"] != "pending" {
		t.Fatalf("states %v", states)
	}
	in := e.inbox()
	if len(in) != 1 {
		t.Fatalf("alice has %d messages, want the DSN for nobody@", len(in))
	}
	d := parseDSN(t, in[0].Body)
	if len(d.recipients) != 1 || d.recipients[0].Get("Final-Recipient") != "rfc822; nobody@remote.test" ||
		d.recipients[0].Get("Status") != "5.1.1" || d.recipients[0].Get("Diagnostic-Code") != "smtp; 550 5.1.1 No such user" ||
		d.perMessage.Get("Reporting-MTA") != "dns; mx.example.test" || d.returned.Get("Message-Id") != "<partial@localhost>" {
		t.Fatalf("DSN %+v", d)
	}
	if !strings.Contains(d.text, "<nobody@remote.test>: 550 5.1.1 No such user") {
		t.Fatalf("DSN text %q", d.text)
	}

	// The busy mailbox recovers: only busy@ is sent on the retry.
	e.peer.SetRcptReply("busy@remote.test", 0, smtp.EnhancedCode{}, "")
	e.clock.AdvanceTo(q.NextAttempt)
	e.runner.Wake()
	e.eventually("completion", func() bool { _, ok := e.entry(id); return !ok })
	count := map[string]int{}
	for _, m := range e.peer.Received() {
		for _, r := range m.To {
			count[r]++
		}
	}
	if count["bob@remote.test"] != 1 || count["busy@remote.test"] != 1 || count["nobody@remote.test"] != 0 || e.peer.RcptAttempts("bob@remote.test") != 1 {
		t.Fatalf("deliveries %v", count)
	}
	if n := len(e.inbox()); n != 1 {
		t.Fatalf("alice has %d messages, want only the one DSN", n)
	}
	if v := counter(t, e.reg, "sealgate_queue_deliveries_total", "delivered"); v != 2 {
		t.Fatalf("delivered counter %v", v)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{result=%s}", name, result)
	return 0
}

func TestNoBounceForABounceAndRemoteSendersGetSpooledDSN(t *testing.T) {
	e := start(t, envOpts{extraRoutes: []string{"other.test"}})
	e.peer.SetRcptReply("nobody@remote.test", 550, smtp.EnhancedCode{5, 1, 1}, "No such user")
	null := e.enqueue("", "bounce", "nobody@remote.test")
	e.eventually("null sender settled", func() bool { _, ok := e.entry(null); return !ok })
	if q, err := e.store.QueueEntries(context.Background()); err != nil || len(q) != 0 {
		t.Fatalf("queue %+v %v: a bounce was bounced", q, err)
	}
	// A remote sender's DSN is spooled with the null sender, and delivered.
	e.enqueue("someone@other.test", "from-afar", "nobody@remote.test")
	if !e.peer.Wait(15*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) == 1 }) {
		t.Fatal("the DSN did not reach the remote sender")
	}
	got := e.peer.Received()[0]
	if got.From != "" || len(got.To) != 1 || got.To[0] != "someone@other.test" {
		t.Fatalf("the DSN went %q → %q", got.From, got.To)
	}
	if d := parseDSN(t, got.Body); len(d.recipients) != 1 || d.recipients[0].Get("Final-Recipient") != "rfc822; nobody@remote.test" {
		t.Fatalf("DSN %+v", d)
	}
	e.eventually("empty queue", func() bool { q, _ := e.store.QueueEntries(context.Background()); return len(q) == 0 })
	if len(e.inbox()) != 0 {
		t.Fatal("a DSN reached a local mailbox")
	}
}

func TestHeldEntryIsNeitherDeliveredNorBounced(t *testing.T) {
	e := start(t, envOpts{lifetime: time.Minute})
	ctx := context.Background()
	e.peer.SetRcptReply("bob@remote.test", 451, smtp.EnhancedCode{4, 3, 0}, "later")
	id := e.enqueue("alice@localhost", "held", "bob@remote.test")
	e.eventually("first attempt", func() bool { q, _ := e.entry(id); return q.Attempts == 1 })
	if err := e.store.QueueSetHeld(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	// Far past its lifetime and its next attempt, and the peer accepts again: still nothing.
	e.peer.SetRcptReply("bob@remote.test", 0, smtp.EnhancedCode{}, "")
	e.clock.AdvanceTo(e.clock.Now().Add(time.Hour))
	if _, err := e.store.QueueFlush(ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if q, ok := e.entry(id); !ok || !q.Held || q.Attempts != 1 || len(e.peer.Received()) != 0 || len(e.inbox()) != 0 {
		t.Fatalf("held entry %+v touched", q)
	}
	if err := e.store.QueueRetry(ctx, id, e.clock.Now()); err != mailstore.ErrQueueHeld {
		t.Fatalf("retry of a held entry: %v", err)
	}
	if err := e.store.QueueSetHeld(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	e.runner.Wake()
	e.eventually("delivery after release", func() bool { return len(e.peer.Received()) == 1 })
	e.eventually("entry gone", func() bool { _, ok := e.entry(id); return !ok })
}

func TestSessionsLimitedPerDomain(t *testing.T) {
	e := start(t, envOpts{perDomain: 1, extraRoutes: []string{"other.test"}})
	var mu sync.Mutex
	inHook := map[string]int{}
	total, maxPer := 0, 0
	gate := make(chan struct{})
	e.peer.SetBeforeDataReply(func(_ net.Conn, m deliverytest.Received) error {
		dom := m.To[0][strings.IndexByte(m.To[0], '@')+1:]
		mu.Lock()
		inHook[dom]++
		total++
		maxPer = max(maxPer, inHook[dom])
		mu.Unlock()
		<-gate
		mu.Lock()
		inHook[dom]--
		total--
		mu.Unlock()
		return nil
	})
	e.enqueue("alice@localhost", "a1", "bob@remote.test")
	e.enqueue("alice@localhost", "a2", "carol@remote.test")
	e.enqueue("alice@localhost", "b1", "dave@other.test")
	// Both domains are served at once; a second session to remote.test would show here too.
	e.eventually("one session per domain", func() bool { mu.Lock(); defer mu.Unlock(); return total == 2 })
	close(gate)
	e.eventually("all delivered", func() bool { return len(e.peer.Received()) == 3 })
	mu.Lock()
	defer mu.Unlock()
	if maxPer != 1 {
		t.Fatalf("%d concurrent sessions to one domain", maxPer)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func TestDelayWarningOnceThenBounce(t *testing.T) {
	e := start(t, envOpts{lifetime: 10 * time.Minute, delayWarning: 2 * time.Minute})
	e.peer.SetRcptReply("bob@remote.test", 451, smtp.EnhancedCode{4, 3, 0}, "Try again later")
	id := e.enqueue("alice@localhost", "slow-one", "bob@remote.test")
	q, _ := e.entry(id)
	created := q.Created
	// Attempts at +0 and +1m: younger than the warning age, no notice.
	for i := 1; i <= 2; i++ {
		e.eventually("attempt", func() bool { q, _ := e.entry(id); return q.Attempts == i })
		if n := len(e.inbox()); n != 0 {
			t.Fatalf("after attempt %d alice has %d messages", i, n)
		}
		q, _ = e.entry(id)
		e.clock.AdvanceTo(q.NextAttempt)
		e.runner.Wake()
	}
	// The attempt at +3m is past the warning age: one notice, Action delayed.
	e.eventually("warning", func() bool { return len(e.inbox()) == 1 })
	d := parseDSN(t, e.inbox()[0].Body)
	if d.header.Get("Subject") != "Delayed Mail (still being retried)" || len(d.recipients) != 1 {
		t.Fatalf("notice %v %v", d.header, d.recipients)
	}
	r := d.recipients[0]
	if r.Get("Action") != "delayed" || r.Get("Status") != "4.3.0" || r.Get("Will-Retry-Until") != created.Add(10*time.Minute).Format(time.RFC1123Z) {
		t.Fatalf("recipient fields %v", r)
	}
	if q, _ := e.entry(id); !q.Warned || q.Recipients[0].State != mailstore.RcptPending {
		t.Fatalf("entry after the warning %+v", q)
	}
	// Later attempts send no second notice; the lifetime's end bounces as usual.
	for q, ok := e.entry(id); ok; q, ok = e.entry(id) {
		e.clock.AdvanceTo(q.NextAttempt)
		e.runner.Wake()
		n := q.Attempts
		e.eventually("next attempt", func() bool { q, ok := e.entry(id); return !ok || q.Attempts > n })
	}
	in := e.inbox()
	if len(in) != 2 {
		t.Fatalf("alice has %d messages, want the warning and the bounce", len(in))
	}
	if d := parseDSN(t, in[1].Body); d.recipients[0].Get("Action") != "failed" {
		t.Fatalf("second notice is not the bounce: %v", d.recipients[0])
	}
}
