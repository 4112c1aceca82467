package tlsrpt_test

import (
	"context"
	"testing"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/tlsrpt"
	"github.com/sealgate/sealgate/gateway/tlsrpt/tlsrpttest"
)

// TestCountsSurviveRestart: counts a stopping reporter moved to the store are reported by
// the next process, in one report with those counted before and after.
func TestCountsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, dnstest.Zone{"_smtp._tls.a.test. TXT": {"v=TLSRPTv1; rua=mailto:r@reports.test"}})
	var sent [][]byte
	reporter := func(rec *tlsrpt.Recorder, s tlsrpt.Store) *tlsrpt.Reporter {
		return tlsrpt.NewReporter(tlsrpt.Options{Recorder: rec, Store: s, LookupTXT: dns.Resolver().LookupTXT,
			Submitter: "gw.test", From: "postmaster@gw.test",
			Send: func(_ context.Context, _ string, _ []string, content []byte) error {
				sent = append(sent, content)
				return nil
			}})
	}
	fail := delivery.TLSResult{Domain: "a.test", PolicyType: "sts", PolicyStrings: []string{"version: STSv1", "mode: enforce"},
		MXHost: "mx.a.test", IP: "192.0.2.1", Failure: "certificate-expired", Detail: "x509: expired"}
	ok := fail
	ok.MXHost, ok.IP, ok.Failure, ok.Detail = "", "", "", ""

	rec := tlsrpt.NewRecorder(nil)
	rec.RecordTLS(fail)
	rec.RecordTLS(ok)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	reporter(rec, st).Run(ctx) // stopping: the counts go to the store
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec = tlsrpt.NewRecorder(nil)
	rec.RecordTLS(fail)
	reporter(rec, st).Flush(context.Background())
	if len(sent) != 1 {
		t.Fatalf("%d reports", len(sent))
	}
	_, r := tlsrpttest.ParseReportMail(t, sent[0], "gw.test")
	if len(r.Policies) != 1 {
		t.Fatalf("policies %+v", r.Policies)
	}
	p := r.Policies[0]
	if p.Summary.Success != 1 || p.Summary.Failure != 2 || len(p.FailureDetails) != 1 || p.FailureDetails[0].Count != 2 ||
		p.FailureDetails[0].ResultType != "certificate-expired" || len(p.Policy.String) != 2 {
		t.Errorf("policy %+v", p)
	}
}
