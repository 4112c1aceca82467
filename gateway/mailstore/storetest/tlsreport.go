package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// TLSCountStore keeps the counts of TLS reports (gateway/tlsrpt) between reports.
type TLSCountStore interface {
	AddTLSCounts(ctx context.Context, counts []mailstore.TLSCount) error
	TakeTLSCounts(ctx context.Context) ([]mailstore.TLSCount, error)
}

func testTLSReportCounts(t *testing.T, open Opener) {
	ctx := t.Context()
	s, ok := open(t, mailstore.Options{}).(TLSCountStore)
	if !ok {
		t.Fatal("the store does not keep TLS report counts")
	}
	t0 := time.Unix(1_700_000_000, 0)
	ok1 := mailstore.TLSCount{Domain: "a.test", PolicyType: "sts", PolicyString: "version: STSv1\nmode: enforce", Count: 2, Since: t0.Add(time.Hour)}
	bad := mailstore.TLSCount{Domain: "a.test", PolicyType: "sts", PolicyString: "version: STSv1\nmode: enforce",
		ResultType: "certificate-expired", MXHost: "mx.a.test", IP: "192.0.2.1", Detail: "first", Count: 1, Since: t0}
	if err := s.AddTLSCounts(ctx, []mailstore.TLSCount{ok1, bad}); err != nil {
		t.Fatal(err)
	}
	bad2 := bad
	bad2.Detail, bad2.Count, bad2.Since = "second", 3, t0.Add(2*time.Hour)
	ok2 := ok1
	ok2.Since = t0
	if err := s.AddTLSCounts(ctx, []mailstore.TLSCount{bad2, ok2}); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeTLSCounts(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("took %+v, %v", got, err)
	}
	for _, c := range got {
		switch c.ResultType {
		case "":
			if c.Count != 4 || !c.Since.Equal(t0) || c.PolicyString != ok1.PolicyString {
				t.Errorf("successes %+v", c)
			}
		case "certificate-expired":
			if c.Count != 4 || !c.Since.Equal(t0) || c.Detail != "first" || c.MXHost != "mx.a.test" || c.IP != "192.0.2.1" {
				t.Errorf("failures %+v", c)
			}
		default:
			t.Errorf("row %+v", c)
		}
	}
	if got, err := s.TakeTLSCounts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("second take %+v, %v", got, err)
	}
}
