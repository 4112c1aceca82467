package gateway_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/tlsrpt"
	"github.com/sealgate/sealgate/gateway/tlsrpt/tlsrpttest"
)

// TestTLSReportsFromDelivery runs the whole path: submitted mail goes to the MX hosts of
// tls.test (STARTTLS) and plain.test (no STARTTLS, on 127.0.0.2), the delivery client's
// outcomes are counted, and the report worker sends each domain's RFC 8460 report to the rua
// its _smtp._tls record names, here a local mailbox. The reports arrive through the pipeline
// and the store, and their gzipped JSON carries the counts and result types.
func TestTLSReportsFromDelivery(t *testing.T) {
	withTLS := deliverytest.Start(t, deliverytest.Options{TLS: true})
	_, port, _ := net.SplitHostPort(withTLS.Addr)
	plain := deliverytest.Start(t, deliverytest.Options{Addr: "127.0.0.2:" + port})
	n, _ := strconv.Atoi(port)
	env := gatewaytest.StartWith(t, gateway.Options{MXPort: n, Resolver: &deliverytest.Resolver{
		MX:    map[string][]*net.MX{"tls.test": {{Host: "mx.tls.test.", Pref: 10}}, "plain.test": {{Host: "mx.plain.test.", Pref: 10}}},
		Hosts: map[string][]string{"mx.tls.test": {"127.0.0.1"}, "mx.plain.test": {"127.0.0.2"}},
	}}, func(c *config.Config) {
		c.Auth.PlaintextOnLoopback = true
		c.Outbound.MTASTS = false
		c.Outbound.TLSReports = true
		c.Outbound.TLSReportInterval = config.Duration{Duration: 50 * time.Millisecond}
	})
	env.DNS.Set("_smtp._tls.tls.test. TXT", "v=TLSRPTv1; rua=mailto:tls-reports@example.test")
	env.DNS.Set("_smtp._tls.plain.test. TXT", "v=TLSRPTv1; rua=https://reports.example/v1,mailto:tls-reports@example.test")
	env.AddUser("alice@localhost", alicePW)
	env.AddUser("tls-reports@example.test", "reports-password")
	env.Submit("alice@localhost", alicePW, []string{"bob@tls.test"}, "From: alice@localhost\r\nTo: bob@tls.test\r\nSubject: one\r\n\r\nHi.\r\n")
	env.Submit("alice@localhost", alicePW, []string{"carol@plain.test"}, "From: alice@localhost\r\nTo: carol@plain.test\r\nSubject: two\r\n\r\nHi.\r\n")
	if !withTLS.Wait(20*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) == 1 }) ||
		!plain.Wait(20*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) == 1 }) {
		t.Fatal("the MX peers did not get their mail")
	}

	// Sessions may fall into several intervals: sum what the reports say.
	type sums struct {
		typ              string
		success, failure int64
		results          map[string]int64
	}
	var got map[string]*sums
	eventually(t, "TLS reports in the rua mailbox", func() bool {
		got = map[string]*sums{}
		for _, m := range env.Mailbox("tls-reports@example.test", "INBOX") {
			domain, r := readTLSReport(t, m.Body)
			s := got[domain]
			if s == nil {
				s = &sums{results: map[string]int64{}}
				got[domain] = s
			}
			for _, p := range r.Policies {
				s.typ = p.Policy.Type
				s.success += p.Summary.Success
				s.failure += p.Summary.Failure
				for _, f := range p.FailureDetails {
					s.results[f.ResultType+" "+f.ReceivingMX+" "+f.ReceivingIP] += f.Count
				}
			}
		}
		return got["tls.test"] != nil && got["plain.test"] != nil && got["tls.test"].success == 1 && got["plain.test"].failure == 1
	})
	if s := got["tls.test"]; s.typ != "no-policy-found" || s.failure != 0 {
		t.Errorf("tls.test: %+v", s)
	}
	if s := got["plain.test"]; s.typ != "no-policy-found" || s.success != 0 || s.results["starttls-not-supported mx.plain.test 127.0.0.2"] != 1 {
		t.Errorf("plain.test: %+v", s)
	}
}

// readTLSReport returns the domain and the JSON report of a report mail the gateway sent.
func readTLSReport(t *testing.T, raw []byte) (string, tlsrpt.Report) {
	t.Helper()
	if from := fieldValue(raw, "From"); from != "<postmaster@localhost>" {
		t.Errorf("report from %q", from)
	}
	return tlsrpttest.ParseReportMail(t, raw, "mx.example.test")
}
