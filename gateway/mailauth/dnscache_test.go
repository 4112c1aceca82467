package mailauth_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest/testclock"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
)

func TestCacheSharesAndExpiresAnswers(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"example.test. TXT": {"v=spf1 -all"},
		"example.test. MX":  {"10 mx.example.test."},
		"SERVFAIL":          {"broken.test."},
	})
	clock := testclock.New(time.Unix(1_700_000_000, 0))
	c := mailauth.NewCache(srv.Resolver(), clock.Now)
	ctx := context.Background()

	// Twenty concurrent sessions asking the same question cause one query.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			txts, err := c.LookupTXT(ctx, "example.test.")
			if err != nil || len(txts) != 1 || txts[0] != "v=spf1 -all" {
				t.Errorf("LookupTXT: %q, %v", txts, err)
			}
		})
	}
	wg.Wait()
	if n := srv.Asked("example.test. TXT"); n != 1 {
		t.Fatalf("server asked %d times, want 1", n)
	}

	// A caller may change what it got without changing what others get.
	txts, _ := c.LookupTXT(ctx, "example.test.")
	txts[0] = "changed"
	if txts, _ := c.LookupTXT(ctx, "example.test."); txts[0] != "v=spf1 -all" {
		t.Fatalf("cached answer changed to %q", txts[0])
	}
	mxs, err := c.LookupMX(ctx, "example.test.")
	if err != nil || len(mxs) != 1 || mxs[0].Host != "mx.example.test." {
		t.Fatalf("MX: %v %v", mxs, err)
	}

	// Answers are asked again once they are older than their lifetime.
	clock.Add(mailauth.CachePositiveTTL - time.Second)
	c.LookupTXT(ctx, "example.test.")
	if n := srv.Asked("example.test. TXT"); n != 1 {
		t.Fatalf("asked again before the answer expired: %d", n)
	}
	clock.Add(2 * time.Second)
	c.LookupTXT(ctx, "example.test.")
	if n := srv.Asked("example.test. TXT"); n != 2 {
		t.Fatalf("server asked %d times after expiry, want 2", n)
	}

	// A missing name is remembered as missing; a server failure only briefly.
	var dnsErr *net.DNSError
	for range 3 {
		if _, err := c.LookupTXT(ctx, "_dmarc.example.test."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Fatalf("missing name: %v", err)
		}
		if _, err := c.LookupTXT(ctx, "broken.test."); !errors.As(err, &dnsErr) || dnsErr.IsNotFound {
			t.Fatalf("SERVFAIL: %v", err)
		}
	}
	if n := srv.Asked("_dmarc.example.test. TXT"); n != 1 {
		t.Fatalf("missing name asked %d times, want 1", n)
	}
	before := srv.Asked("broken.test. TXT")
	clock.Add(mailauth.CacheFailureTTL + time.Second)
	c.LookupTXT(ctx, "broken.test.")
	c.LookupTXT(ctx, "_dmarc.example.test.")
	if n := srv.Asked("broken.test. TXT"); n <= before {
		t.Fatalf("failure not asked again after %v", mailauth.CacheFailureTTL)
	}
	if n := srv.Asked("_dmarc.example.test. TXT"); n != 1 {
		t.Fatalf("missing name asked again within its lifetime: %d", n)
	}
}

// A caller that gives up gets its own context's error; the lookup it started still answers
// the others.
func TestCacheCallerCancelDoesNotFailOthers(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"example.test. TXT": {"v=spf1 -all"}})
	c := mailauth.NewCache(srv.Resolver(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.LookupTXT(ctx, "example.test."); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	txts, err := c.LookupTXT(context.Background(), "example.test.")
	if err != nil || len(txts) != 1 {
		t.Fatalf("other caller: %v %v", txts, err)
	}
}
