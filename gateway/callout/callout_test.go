package callout_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/callout"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/testclock"
)

func TestCalloutAnswersAndCache(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	peer.SetRcptReply("ghost@corp.test", 550, smtp.EnhancedCode{5, 1, 1}, "no such user")
	peer.SetRcptReply("busy@corp.test", 450, smtp.EnhancedCode{4, 2, 1}, "try later")
	clk := testclock.New(time.Unix(1e9, 0))
	c, err := callout.New(callout.Options{
		Hostname: "gw.test", Now: clk.Now,
		NextHop: func(d string) (string, bool) { return peer.Addr, d == "corp.test" },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		rcpt string
		want callout.Result
	}{
		{"alice@corp.test", callout.Exists},
		{"ghost@corp.test", callout.NoSuchUser},
		{"Ghost@corp.test", callout.NoSuchUser}, // cached, case-folded
		{"busy@corp.test", callout.Unknown},
		{"x@other.test", callout.Unknown}, // no next hop
	} {
		if got := c.Check(ctx, gatewaytest.Address(t, tt.rcpt)); got != tt.want {
			t.Errorf("Check(%s) = %v, want %v", tt.rcpt, got, tt.want)
		}
	}
	if n := peer.RcptAttempts("ghost@corp.test"); n != 1 {
		t.Errorf("ghost probed %d times, want 1 (cached)", n)
	}
	if len(peer.Received()) != 0 {
		t.Error("a probe sent a message")
	}
	// A new user appears at the next hop: the negative answer expires.
	peer.SetRcptReply("ghost@corp.test", 0, smtp.EnhancedCode{}, "")
	if got := c.Check(ctx, gatewaytest.Address(t, "ghost@corp.test")); got != callout.NoSuchUser {
		t.Errorf("before expiry: %v", got)
	}
	clk.Add(11 * time.Minute)
	if got := c.Check(ctx, gatewaytest.Address(t, "ghost@corp.test")); got != callout.Exists {
		t.Errorf("after expiry: %v, want exists", got)
	}
}

func TestCalloutNextHopDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hop := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, _ := callout.New(callout.Options{Hostname: "gw.test", NextHop: func(string) (string, bool) { return hop, true }})
	if got := c.Check(context.Background(), gatewaytest.Address(t, "a@corp.test")); got != callout.Unknown {
		t.Errorf("down next hop: %v, want unknown", got)
	}
}

// A next hop that greets and then says nothing is given up on after Timeout.
func TestCalloutSilentNextHop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("220 silent\r\n"))
			defer c.Close()
		}
	}()
	c, _ := callout.New(callout.Options{Hostname: "gw.test", Timeout: 200 * time.Millisecond,
		NextHop: func(string) (string, bool) { return ln.Addr().String(), true }})
	if got := c.Check(context.Background(), gatewaytest.Address(t, "a@corp.test")); got != callout.Unknown {
		t.Errorf("silent next hop: %v, want unknown", got)
	}
}

// At most MaxConcurrent probes run at once, and callers asking for the same address share one.
func TestCalloutConcurrencyBounded(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	var mu sync.Mutex
	active, most := 0, 0
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		active++
		most = max(most, active)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // hold the slot so that other probes would overlap
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c, done: func() { mu.Lock(); active--; mu.Unlock() }}, nil
	}
	c, _ := callout.New(callout.Options{Hostname: "gw.test", MaxConcurrent: 2, Dial: dial,
		NextHop: func(string) (string, bool) { return peer.Addr, true }})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rcpt := "same@corp.test"
			if i%2 == 0 {
				rcpt = string(rune('a'+i)) + "@corp.test"
			}
			if got := c.Check(context.Background(), gatewaytest.Address(t, rcpt)); got != callout.Exists {
				t.Errorf("%s: %v", rcpt, got)
			}
		}(i)
	}
	wg.Wait()
	if most > 2 {
		t.Errorf("%d probes ran at once, want at most 2", most)
	}
	if n := peer.RcptAttempts("same@corp.test"); n != 1 {
		t.Errorf("same address probed %d times, want 1", n)
	}
}

type countedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}
