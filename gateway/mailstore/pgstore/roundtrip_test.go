package pgstore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

var body10KiB = append([]byte("Subject: bench\r\n\r\n"), bytes.Repeat([]byte("x"), 10240)...)

// TestRoundTripsPerDelivery: once a connection has prepared its statements, storing a
// message — body, mailbox entry, UID, change notification, commit — is one round trip.
func TestRoundTripsPerDelivery(t *testing.T) {
	dsn, p := pgtest.Proxied(t, newDB(t))
	ctx := context.Background()
	s := openNode(t, dsn, pgstore.Options{})
	u := addUser(t, s, "rt@x.test")
	one := func(outbound bool) {
		d := mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes(body10KiB), Local: []mailstore.Target{{UserID: u.ID}}}}}
		if outbound {
			d.Copies[0].Outbound = &mailstore.Outbound{Sender: "rt@x.test", Recipients: []string{"a@remote.test", "b@remote.test"}}
		}
		if _, err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, outbound := range []bool{false, true} {
		one(outbound) // prepares the statements on the connection
		const n = 50
		before := p.Trips()
		for range n {
			one(outbound)
		}
		trips := p.Trips() - before
		t.Logf("outbound %v: %d round trips for %d deliveries", outbound, trips, n)
		if trips != n {
			t.Errorf("outbound %v: %d round trips for %d deliveries, want one each", outbound, trips, n)
		}
	}
}

// BenchmarkDeliver10KiB is mailstore's benchmark of the same name against PostgreSQL: 20
// goroutines (like 20 SMTP sessions) deliver a 10 KiB message each to one INBOX. It reports
// database round trips per delivered message.
func BenchmarkDeliver10KiB(b *testing.B) {
	dsn, p := pgtest.Proxied(b, newDB(b))
	ctx := context.Background()
	s := openNode(b, dsn, pgstore.Options{})
	u := addUser(b, s, "b@x.test")
	b.SetBytes(int64(len(body10KiB)))
	b.ReportAllocs()
	b.SetParallelism(10)
	before := p.Trips()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes(body10KiB), Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(p.Trips()-before)/float64(b.N), "roundtrips/op")
}
