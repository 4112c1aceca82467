package delivery_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
)

const plainMsg = "From: alice@localhost\r\nTo: bob@remote.test\r\nSubject: hi\r\n\r\nHello.\r\n.leading dot\r\n"

func message(body string, to ...string) *delivery.Message {
	dom := to[0][strings.LastIndexByte(to[0], '@')+1:]
	m := &delivery.Message{From: "alice@localhost", To: to, Domain: dom, Size: int64(len(body)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
	m.Needs8Bit, m.NeedsUTF8, _ = delivery.Inspect(strings.NewReader(body))
	return m
}

func routeTo(p *deliverytest.Peer, tls delivery.TLSPolicy) delivery.Options {
	return delivery.Options{Hostname: "mx.example.test", Routes: map[string]delivery.Route{"remote.test": {Addr: p.Addr, TLS: tls}}}
}

func want(t *testing.T, res []delivery.Result, outcome delivery.Outcome, status string) {
	t.Helper()
	for _, r := range res {
		if r.Outcome != outcome || (status != "" && r.Status != status) {
			t.Fatalf("result %+v, want %v %s", r, outcome, status)
		}
	}
}

func TestDeliverOpportunisticTLSAndDotStuffing(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{TLS: true})
	res := delivery.New(routeTo(p, delivery.TLSOpportunistic)).Deliver(context.Background(), message(plainMsg, "bob@remote.test", "carol@remote.test"))
	want(t, res, delivery.Delivered, "2.0.0")
	got := p.Received()
	if len(got) != 1 || !got[0].TLS || len(got[0].To) != 2 || got[0].From != "alice@localhost" {
		t.Fatalf("peer got %+v", got)
	}
	if string(got[0].Body) != plainMsg {
		t.Fatalf("body changed in transit:\n%q\n%q", got[0].Body, plainMsg)
	}
	if res[0].MTA != "127.0.0.1" || !strings.HasPrefix(res[0].Reply, "250 ") {
		t.Fatalf("result %+v", res[0])
	}
}

func TestDeliverFallsBackToPlainWithoutSTARTTLS(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{})
	res := delivery.New(routeTo(p, delivery.TLSOpportunistic)).Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	if got := p.Received(); len(got) != 1 || got[0].TLS {
		t.Fatalf("peer got %+v", got)
	}
}

func TestDeliverRequiredTLSRefusesPlainPeer(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{})
	for _, pol := range []delivery.TLSPolicy{delivery.TLSRequired, delivery.TLSVerify} {
		res := delivery.New(routeTo(p, pol)).Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
		want(t, res, delivery.Deferred, "4.7.4")
	}
	if n := len(p.Received()); n != 0 {
		t.Fatalf("%d messages sent in plain text", n)
	}
}

func TestDeliverVerifyChecksCertificate(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{TLS: true})
	// Unknown issuer: refused.
	res := delivery.New(routeTo(p, delivery.TLSVerify)).Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Deferred, "4.7.5")
	// "required" takes any certificate.
	res = delivery.New(routeTo(p, delivery.TLSRequired)).Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	// Trusted issuer: accepted.
	pool := x509.NewCertPool()
	pool.AddCert(p.Cert)
	o := routeTo(p, delivery.TLSVerify)
	o.RootCAs = pool
	res = delivery.New(o).Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	if got := p.Received(); len(got) != 2 || !got[1].TLS {
		t.Fatalf("peer got %+v", got)
	}
}

func TestDeliverPerRecipientReplies(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{})
	p.SetRcptReply("nobody@remote.test", 550, smtp.EnhancedCode{5, 1, 1}, "No such user")
	p.SetRcptReply("busy@remote.test", 452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")
	var progress [][]delivery.Result
	m := message(plainMsg, "bob@remote.test", "nobody@remote.test", "busy@remote.test")
	m.Progress = func(r []delivery.Result) { progress = append(progress, r) }
	res := delivery.New(routeTo(p, delivery.TLSNone)).Deliver(context.Background(), m)
	if res[0].Outcome != delivery.Delivered || res[1].Outcome != delivery.Failed || res[1].Status != "5.1.1" ||
		res[2].Outcome != delivery.Deferred || res[2].Status != "4.2.2" || res[1].Reply != "550 5.1.1 No such user" {
		t.Fatalf("results %+v", res)
	}
	// Rejections are reported before DATA, the delivery after it.
	if len(progress) != 2 || len(progress[0]) != 2 || len(progress[1]) != 1 || progress[1][0].Rcpt != "bob@remote.test" {
		t.Fatalf("progress %+v", progress)
	}
	if got := p.Received(); len(got) != 1 || len(got[0].To) != 1 {
		t.Fatalf("peer got %+v", got)
	}
	if p.Sessions() != 1 {
		t.Fatalf("%d sessions", p.Sessions())
	}
}

func TestDeliverDataRepliesAndDrops(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{})
	c := delivery.New(routeTo(p, delivery.TLSNone))
	p.SetDataReply(451, smtp.EnhancedCode{4, 3, 0}, "try later")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Deferred, "4.3.0")
	p.SetDataReply(554, smtp.EnhancedCode{5, 7, 1}, "spam")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Failed, "5.7.1")
	p.SetDataReply(0, smtp.EnhancedCode{}, "")
	p.SetDrop("data")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Deferred, "4.4.2")
	p.SetDrop("rcpt")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Deferred, "4.4.2")
	if n := len(p.Received()); n != 0 {
		t.Fatalf("peer accepted %d", n)
	}
	p.Stop()
	res := c.Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Deferred, "4.4.1")
	if !strings.Contains(res[0].Reply, "connect") {
		t.Fatalf("reply %q", res[0].Reply)
	}
}

// twoLoopbacks starts a peer on 127.0.0.3 and returns it with a port on which 127.0.0.2 has
// nothing listening, so MX hosts can share the port.
func twoLoopbacks(t *testing.T) (*deliverytest.Peer, int) {
	p := deliverytest.Start(t, deliverytest.Options{Addr: "127.0.0.3:0"})
	_, ps, _ := net.SplitHostPort(p.Addr)
	port, _ := strconv.Atoi(ps)
	return p, port
}

func TestDeliverMXPreferenceAndFallback(t *testing.T) {
	p, port := twoLoopbacks(t)
	r := &deliverytest.Resolver{
		MX: map[string][]*net.MX{
			"remote.test": {{Host: "mx2.remote.test.", Pref: 20}, {Host: "mx1.remote.test.", Pref: 10}, {Host: "gone.remote.test.", Pref: 5}},
		},
		Hosts: map[string][]string{"mx1.remote.test": {"127.0.0.2"}, "mx2.remote.test": {"127.0.0.3"}},
	}
	res := delivery.New(delivery.Options{Resolver: r, Port: port}).Deliver(context.Background(), message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	if res[0].MTA != "mx2.remote.test" || len(p.Received()) != 1 {
		t.Fatalf("result %+v", res)
	}
}

func TestDeliverImplicitMXAndMissingDomains(t *testing.T) {
	p, port := twoLoopbacks(t)
	r := &deliverytest.Resolver{
		MX:    map[string][]*net.MX{"nullmx.test": {{Host: ".", Pref: 0}}},
		Hosts: map[string][]string{"remote.test": {"127.0.0.3"}},
	}
	c := delivery.New(delivery.Options{Resolver: r, Port: port})
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Delivered, "")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@nowhere.test")), delivery.Failed, "5.1.2")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@nullmx.test")), delivery.Failed, "5.1.10")
	r.Temporary = true
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@nowhere.test")), delivery.Deferred, "4.4.3")
	if n := len(p.Received()); n != 1 {
		t.Fatalf("peer got %d", n)
	}
}

func TestDeliverEightBitAndUTF8NeedTheExtensions(t *testing.T) {
	body8 := "From: alice@localhost\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"
	bodyUTF8 := "From: alice@localhost\r\nSubject: Grüße\r\n\r\nhi\r\n"
	old := deliverytest.Start(t, deliverytest.Options{No8BitMIME: true})
	c := delivery.New(routeTo(old, delivery.TLSNone))
	want(t, c.Deliver(context.Background(), message(body8, "bob@remote.test")), delivery.Failed, "5.6.3")
	want(t, c.Deliver(context.Background(), message(bodyUTF8, "bob@remote.test")), delivery.Failed, "5.6.7")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Delivered, "")
	if got := old.Received(); len(got) != 1 || got[0].Params.Body != "" {
		t.Fatalf("old peer got %+v", got)
	}

	modern := deliverytest.Start(t, deliverytest.Options{SMTPUTF8: true})
	c = delivery.New(routeTo(modern, delivery.TLSNone))
	want(t, c.Deliver(context.Background(), message(body8, "bob@remote.test")), delivery.Delivered, "")
	want(t, c.Deliver(context.Background(), message(bodyUTF8, "bob@remote.test")), delivery.Delivered, "")
	got := modern.Received()
	if len(got) != 2 || got[0].Params.Body != smtp.Body8BitMIME || !got[1].Params.UTF8 || !bytes.Equal(got[1].Body, []byte(bodyUTF8)) {
		t.Fatalf("modern peer got %+v", got)
	}
}

func TestDeliverSizeLimit(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{MaxSize: 100})
	big := plainMsg + strings.Repeat("x", 200) + "\r\n"
	c := delivery.New(routeTo(p, delivery.TLSNone))
	want(t, c.Deliver(context.Background(), message(big, "bob@remote.test")), delivery.Failed, "5.3.4")
	want(t, c.Deliver(context.Background(), message(plainMsg, "bob@remote.test")), delivery.Delivered, "")
	if got := p.Received(); len(got) != 1 || got[0].Params.Size != int64(len(plainMsg)) {
		t.Fatalf("peer got %+v", got)
	}
}

func TestDeliverSmarthostAuth(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{TLS: true, AuthUser: "relay", AuthPassword: "s3cret"})
	o := delivery.Options{Smarthost: &delivery.Route{Addr: p.Addr, TLS: delivery.TLSRequired, Auth: &delivery.Auth{Username: "relay", Password: "wrong"}}}
	want(t, delivery.New(o).Deliver(context.Background(), message(plainMsg, "bob@anywhere.test")), delivery.Deferred, "4.7.8")
	o.Smarthost.Auth.Password = "s3cret"
	want(t, delivery.New(o).Deliver(context.Background(), message(plainMsg, "bob@anywhere.test")), delivery.Delivered, "")
	// Credentials never go out without TLS.
	plain := deliverytest.Start(t, deliverytest.Options{AuthUser: "relay", AuthPassword: "s3cret"})
	o.Smarthost = &delivery.Route{Addr: plain.Addr, Auth: &delivery.Auth{Username: "relay", Password: "s3cret"}}
	want(t, delivery.New(o).Deliver(context.Background(), message(plainMsg, "bob@anywhere.test")), delivery.Deferred, "4.7.4")
	if got := p.Received(); len(got) != 1 || got[0].AuthUser != "relay" || !got[0].TLS {
		t.Fatalf("smarthost got %+v", got)
	}
}

func TestInspect(t *testing.T) {
	for _, c := range []struct {
		in        string
		e8, eUTF8 bool
	}{
		{plainMsg, false, false},
		{"Subject: a\r\n\r\nü\r\n", true, false},
		{"Subject: ü\r\n\r\na\r\n", true, true},
		{"Subject: a\n\nü\n", true, false},
		{"Subject: a\r\n" + strings.Repeat("x", 100000) + "ü\r\n\r\nb", true, true},
	} {
		e8, u, err := delivery.Inspect(strings.NewReader(c.in))
		if err != nil || e8 != c.e8 || u != c.eUTF8 {
			t.Errorf("Inspect(%.30q) = %v %v %v", c.in, e8, u, err)
		}
	}
}

// TestDeliverReportsWholeMessageFailuresToProgress checks that failures of the whole message
// (before any RCPT) reach Progress like rejected recipients do, each recipient once.
func TestDeliverReportsWholeMessageFailuresToProgress(t *testing.T) {
	refuse := deliverytest.StartRaw(t, deliverytest.RawOptions{Mail: "550 5.7.1 Sender refused"})
	closed := deliverytest.StartRaw(t, deliverytest.RawOptions{Greeting: "554 5.3.2 No service"})
	later := deliverytest.StartRaw(t, deliverytest.RawOptions{Mail: "451 4.3.0 Try later"})
	c := delivery.New(delivery.Options{Hostname: "mx.example.test", Resolver: &deliverytest.Resolver{},
		Routes: map[string]delivery.Route{"refuse.test": {Addr: refuse.Addr}, "closed.test": {Addr: closed.Addr}, "later.test": {Addr: later.Addr}}})
	for _, tc := range []struct {
		domain  string
		outcome delivery.Outcome
		status  string
	}{
		{"refuse.test", delivery.Failed, "5.7.1"},
		{"closed.test", delivery.Failed, "5.3.2"},
		{"nowhere.test", delivery.Failed, "5.1.2"},
		{"later.test", delivery.Deferred, "4.3.0"},
	} {
		m := message(plainMsg, "bob@"+tc.domain, "carol@"+tc.domain)
		seen := map[string]int{}
		m.Progress = func(res []delivery.Result) {
			for _, r := range res {
				seen[r.Rcpt]++
			}
		}
		res := c.Deliver(context.Background(), m)
		want(t, res, tc.outcome, tc.status)
		for _, r := range m.To {
			if n, final := seen[r], tc.outcome != delivery.Deferred; final && n != 1 || !final && n != 0 {
				t.Fatalf("%s: Progress saw %s %d times", tc.domain, r, n)
			}
		}
	}
}
