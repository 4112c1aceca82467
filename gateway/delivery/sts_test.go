package delivery_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/mtasts"
	"github.com/sealgate/sealgate/gateway/mtasts/mtaststest"
)

// stsClient delivers remote.test's mail to p as its MX host mxName, under policy.
func stsClient(t *testing.T, p *deliverytest.Peer, mxName string, policy *mtasts.Policy, logs *bytes.Buffer) *delivery.Client {
	t.Helper()
	host, port, _ := net.SplitHostPort(p.Addr)
	n, _ := strconv.Atoi(port)
	pool := x509.NewCertPool()
	pool.AddCert(p.Cert) // the peer's certificate is for "localhost" and its IP
	return delivery.New(delivery.Options{
		Hostname: "mx.example.test", Port: n, RootCAs: pool,
		Resolver: &deliverytest.Resolver{
			MX:    map[string][]*net.MX{"remote.test": {{Host: mxName + ".", Pref: 10}}},
			Hosts: map[string][]string{mxName: {host}},
		},
		STS:    mtaststest.Policies{"remote.test": policy},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
}

func TestDeliverMTASTS(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{TLS: true})
	ctx := context.Background()
	enforce := func(mx ...string) *mtasts.Policy { return &mtasts.Policy{Mode: mtasts.ModeEnforce, MX: mx} }

	// Enforce, the MX host named, but its certificate is for another name: refused.
	var logs bytes.Buffer
	res := stsClient(t, p, "mx.remote.test", enforce("mx.remote.test"), &logs).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Deferred, "4.7.5")
	// Enforce, an MX host the policy does not name: not used.
	res = stsClient(t, p, "mx.remote.test", enforce("*.elsewhere.test"), &logs).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Deferred, "")
	if !strings.Contains(res[0].Reply, "names none of its MX hosts") {
		t.Errorf("reply %q", res[0].Reply)
	}
	if n := len(p.Received()); n != 0 {
		t.Fatalf("enforce delivered %d messages", n)
	}
	// Enforce, named and valid: delivered over verified TLS.
	res = stsClient(t, p, "localhost", enforce("localhost"), &logs).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	// Testing, the certificate for another name: delivered, and reported.
	logs.Reset()
	res = stsClient(t, p, "mx.remote.test", &mtasts.Policy{Mode: mtasts.ModeTesting, MX: []string{"mx.remote.test"}}, &logs).
		Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	if !strings.Contains(logs.String(), "MTA-STS testing: the certificate does not verify") {
		t.Errorf("testing mode did not report: %s", logs.String())
	}
	if got := p.Received(); len(got) != 2 || !got[0].TLS {
		t.Fatalf("peer got %+v", got)
	}
}
