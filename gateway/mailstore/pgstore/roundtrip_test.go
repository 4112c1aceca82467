package pgstore_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// countingProxy forwards TCP connections to PostgreSQL and counts round trips: each time a
// client sends after the server has answered (or first), that is one more.
type countingProxy struct {
	ln     net.Listener
	target string
	trips  atomic.Int64
	wg     sync.WaitGroup
}

// proxied returns dsn pointed at a counting proxy in front of its server.
func proxied(t testing.TB, dsn string) (string, *countingProxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: u.Host}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	u.Host = ln.Addr().String()
	return u.String(), p
}

func (p *countingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.pipe(c)
	}
}

func (p *countingProxy) pipe(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	var answered atomic.Bool
	answered.Store(true)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				answered.Store(true)
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if answered.Swap(false) {
				p.trips.Add(1)
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

var body10KiB = append([]byte("Subject: bench\r\n\r\n"), bytes.Repeat([]byte("x"), 10240)...)

// TestRoundTripsPerDelivery: once a connection has prepared its statements, storing a
// message — body, mailbox entry, UID, change notification, commit — is one round trip.
func TestRoundTripsPerDelivery(t *testing.T) {
	dsn, p := proxied(t, newDB(t))
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
		before := p.trips.Load()
		for range n {
			one(outbound)
		}
		trips := p.trips.Load() - before
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
	dsn, p := proxied(b, newDB(b))
	ctx := context.Background()
	s := openNode(b, dsn, pgstore.Options{})
	u := addUser(b, s, "b@x.test")
	b.SetBytes(int64(len(body10KiB)))
	b.ReportAllocs()
	b.SetParallelism(10)
	before := p.trips.Load()
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
	b.ReportMetric(float64(p.trips.Load()-before)/float64(b.N), "roundtrips/op")
}
