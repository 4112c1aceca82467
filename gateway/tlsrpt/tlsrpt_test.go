package tlsrpt_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mtasts"
	"github.com/sealgate/sealgate/gateway/mtasts/mtaststest"
	"github.com/sealgate/sealgate/gateway/tlsrpt"
	"github.com/sealgate/sealgate/gateway/tlsrpt/tlsrpttest"
)

const testMsg = "From: alice@sender.test\r\nTo: bob@x\r\nSubject: hi\r\n\r\nHello.\r\n"

func deliver(t *testing.T, c *delivery.Client, domain, to string) []delivery.Result {
	t.Helper()
	return c.Deliver(context.Background(), &delivery.Message{From: "alice@sender.test", To: []string{to}, Domain: domain,
		Size: int64(len(testMsg)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(testMsg)), nil }})
}

// TestReportsEndToEnd delivers to three domains through one TLS peer on loopback: good.test
// (MTA-STS enforce, certificate valid for its MX), bad.test (enforce, certificate for another
// name) and plain.test (no policy), then runs the reporter: each domain's TLSRPT record points
// at a capture MX, and the reports that arrive there carry the right counts and result types.
func TestReportsEndToEnd(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{TLS: true}) // certificate for "localhost"
	capture := deliverytest.Start(t, deliverytest.Options{})
	rua := "v=TLSRPTv1; rua=https://reports.example/x,mailto:tls-reports@capture.test"
	dns := dnstest.Start(t, dnstest.Zone{
		"good.test. MX":              {"10 localhost."},
		"plain.test. MX":             {"10 localhost."},
		"bad.test. MX":               {"10 mx.bad.test."},
		"mx.bad.test. A":             {"127.0.0.1"},
		"localhost. A":               {"127.0.0.1"},
		"_smtp._tls.good.test. TXT":  {rua},
		"_smtp._tls.bad.test. TXT":   {rua},
		"_smtp._tls.plain.test. TXT": {"v=TLSRPTv1;rua=mailto:tls-reports@capture.test"},
	})
	_, port, _ := net.SplitHostPort(peer.Addr)
	n, _ := strconv.Atoi(port)
	pool := x509.NewCertPool()
	pool.AddCert(peer.Cert)
	rec := tlsrpt.NewRecorder(nil)
	enforce := func(mx string) *mtasts.Policy {
		return &mtasts.Policy{Mode: mtasts.ModeEnforce, MX: []string{mx}, MaxAge: 86400 * time.Second}
	}
	client := delivery.New(delivery.Options{
		Hostname: "gw.sender.test", Port: n, RootCAs: pool, Resolver: dns.Resolver(),
		STS:        mtaststest.Policies{"good.test": enforce("localhost"), "bad.test": enforce("mx.bad.test")},
		TLSReports: rec,
	})
	if r := deliver(t, client, "good.test", "bob@good.test"); r[0].Outcome != delivery.Delivered {
		t.Fatalf("good.test: %+v", r)
	}
	for range 2 {
		if r := deliver(t, client, "bad.test", "bob@bad.test"); r[0].Outcome != delivery.Deferred {
			t.Fatalf("bad.test: %+v", r)
		}
	}
	if r := deliver(t, client, "plain.test", "bob@plain.test"); r[0].Outcome != delivery.Delivered {
		t.Fatalf("plain.test: %+v", r)
	}

	// Reports go out as mail, here straight to the capture MX by a route.
	sender := delivery.New(delivery.Options{Hostname: "gw.sender.test",
		Routes: map[string]delivery.Route{"capture.test": {Addr: capture.Addr}}})
	reporter := tlsrpt.NewReporter(tlsrpt.Options{
		Recorder: rec, LookupTXT: dns.Resolver().LookupTXT, Submitter: "gw.sender.test", From: "postmaster@sender.test",
		Send: func(ctx context.Context, from string, to []string, content []byte) error {
			res := sender.Deliver(ctx, &delivery.Message{From: from, To: to, Domain: "capture.test", Size: int64(len(content)),
				Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }})
			if res[0].Outcome != delivery.Delivered {
				t.Errorf("report not delivered: %+v", res)
			}
			return nil
		},
	})
	reporter.Flush(context.Background())

	got := capture.Received()
	if len(got) != 3 {
		t.Fatalf("capture MX got %d reports, want 3", len(got))
	}
	reports := map[string]tlsrpt.Report{}
	for _, m := range got {
		if m.From != "postmaster@sender.test" || len(m.To) != 1 || m.To[0] != "tls-reports@capture.test" {
			t.Errorf("envelope %s → %v", m.From, m.To)
		}
		domain, r := tlsrpttest.ParseReportMail(t, m.Body, "gw.sender.test")
		reports[domain] = r
	}
	check := func(domain, typ string, success, failure int64, resultType, mx string) {
		t.Helper()
		r, ok := reports[domain]
		if !ok {
			t.Fatalf("no report for %s", domain)
		}
		if r.OrganizationName != "gw.sender.test" || r.ContactInfo != "postmaster@sender.test" || r.ReportID == "" ||
			!r.DateRange.End.After(r.DateRange.Start) && !r.DateRange.End.Equal(r.DateRange.Start) {
			t.Errorf("%s: report header %+v", domain, r)
		}
		if len(r.Policies) != 1 {
			t.Fatalf("%s: policies %+v", domain, r.Policies)
		}
		p := r.Policies[0]
		if p.Policy.Type != typ || p.Policy.Domain != domain || p.Summary.Success != success || p.Summary.Failure != failure {
			t.Errorf("%s: policy %+v summary %+v", domain, p.Policy, p.Summary)
		}
		if resultType == "" {
			if len(p.FailureDetails) != 0 {
				t.Errorf("%s: failure details %+v", domain, p.FailureDetails)
			}
			return
		}
		if len(p.FailureDetails) != 1 || p.FailureDetails[0].ResultType != resultType || p.FailureDetails[0].ReceivingMX != mx ||
			p.FailureDetails[0].ReceivingIP != "127.0.0.1" || p.FailureDetails[0].Count != failure {
			t.Errorf("%s: failure details %+v", domain, p.FailureDetails)
		}
	}
	check("good.test", "sts", 1, 0, "", "")
	check("bad.test", "sts", 0, 2, "certificate-host-mismatch", "mx.bad.test")
	check("plain.test", "no-policy-found", 1, 0, "", "")
	if s := reports["good.test"].Policies[0].Policy.String; len(s) != 4 || s[1] != "mode: enforce" || s[2] != "mx: localhost" {
		t.Errorf("policy-string %q", s)
	}

	// The next interval starts empty: nothing more is sent.
	reporter.Flush(context.Background())
	if n := len(capture.Received()); n != 3 {
		t.Errorf("an empty interval sent reports: %d", n)
	}
}
