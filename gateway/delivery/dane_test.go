package delivery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/sealgate/sealgate/gateway/dane"
	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/mtasts"
	"github.com/sealgate/sealgate/gateway/mtasts/mtaststest"
)

// staticDANE answers as a validating resolver would (gateway/dane's tests ask a real one).
type staticDANE struct {
	secure bool
	tlsa   []dane.TLSA
	err    error
}

func (s staticDANE) SecureMX(context.Context, string) (bool, error) { return s.secure, nil }
func (s staticDANE) TLSA(context.Context, string, int) ([]dane.TLSA, error) {
	return s.tlsa, s.err
}

func daneClient(p *deliverytest.Peer, d staticDANE, sts *mtasts.Policy) *delivery.Client {
	host, port, _ := net.SplitHostPort(p.Addr)
	n, _ := strconv.Atoi(port)
	o := delivery.Options{
		Hostname: "mx.example.test", Port: n,
		Resolver: &deliverytest.Resolver{
			MX:    map[string][]*net.MX{"remote.test": {{Host: "mx.remote.test.", Pref: 10}}},
			Hosts: map[string][]string{"mx.remote.test": {host}},
		},
		DANE: d, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
	}
	if sts != nil {
		o.STS = mtaststest.Policies{"remote.test": sts}
	}
	return delivery.New(o)
}

// The peer's certificate is self-signed for "localhost", not for mx.remote.test: only DANE can
// vouch for it.
func TestDeliverDANE(t *testing.T) {
	p := deliverytest.Start(t, deliverytest.Options{TLS: true})
	ctx := context.Background()
	sum := sha256.Sum256(p.Cert.RawSubjectPublicKeyInfo)
	good := dane.TLSA{Usage: dane.UsageDANEEE, Selector: dane.SelectorSPKI, Matching: dane.MatchSHA256, Data: sum[:]}
	bad := good
	bad.Data = make([]byte, 32)

	res := daneClient(p, staticDANE{secure: true, tlsa: []dane.TLSA{good}}, nil).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	res = daneClient(p, staticDANE{secure: true, tlsa: []dane.TLSA{bad}}, nil).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Deferred, "4.7.5")
	// Records in an unsigned zone do not count: opportunistic TLS delivers.
	res = daneClient(p, staticDANE{secure: false, tlsa: []dane.TLSA{bad}}, nil).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	// A failed TLSA lookup: the host is not used.
	res = daneClient(p, staticDANE{secure: true, err: errors.New("SERVFAIL")}, nil).Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Deferred, "")
	// DANE decides for its host even under an MTA-STS enforce policy whose Web PKI check the
	// certificate would fail.
	res = daneClient(p, staticDANE{secure: true, tlsa: []dane.TLSA{good}}, &mtasts.Policy{Mode: mtasts.ModeEnforce, MX: []string{"mx.remote.test"}}).
		Deliver(ctx, message(plainMsg, "bob@remote.test"))
	want(t, res, delivery.Delivered, "")
	if got := p.Received(); len(got) != 3 || !got[0].TLS {
		t.Fatalf("peer got %d messages", len(got))
	}
}
