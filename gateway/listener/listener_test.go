package listener_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sealgate/sealgate/gateway/connlimit"
	"github.com/sealgate/sealgate/gateway/listener"
)

func serve(t *testing.T, opts listener.Options, handle func(net.Conn)) (*listener.Server, string, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := listener.New(opts)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l, handle) }()
	return s, l.Addr().String(), done
}

func greeting(t *testing.T, addr string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

// A panic in a session is recovered, logged and counted; the listener goes on serving.
func TestPanicIsCountedAndServingGoesOn(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := listener.NewMetrics(reg)
	n := 0
	s, addr, done := serve(t, listener.Options{Name: "test", Metrics: m, Go: func(f func()) { f() }}, func(c net.Conn) {
		defer c.Close()
		n++
		if n == 1 {
			panic("boom")
		}
		io.WriteString(c, "hello\n")
	})
	if _, err := greeting(t, addr); err == nil {
		t.Fatal("the panicking session answered")
	}
	if l, err := greeting(t, addr); err != nil || l != "hello\n" {
		t.Fatalf("after a panic: %q, %v", l, err)
	}
	var d dto.Metric
	m.Panics("test").Write(&d)
	if got := d.GetCounter().GetValue(); got != 1 {
		t.Fatalf("panics counted: %v", got)
	}
	s.Shutdown(context.Background())
	if err := <-done; !errors.Is(err, listener.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// A client over its connection cap gets the refusal and is never served; a closed
// connection gives its place back.
func TestPerAddressCap(t *testing.T) {
	hold := make(chan struct{})
	s, addr, _ := serve(t, listener.Options{Limiter: connlimit.New(1), Refuse: func(c net.Conn) { io.WriteString(c, "busy\n") }},
		func(c net.Conn) {
			defer c.Close()
			io.WriteString(c, "hello\n")
			<-hold
		})
	defer s.Shutdown(context.Background())
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := bufio.NewReader(first).ReadString('\n'); l != "hello\n" {
		t.Fatalf("first: %q", l)
	}
	if l, _ := greeting(t, addr); l != "busy\n" {
		t.Fatalf("second from the same address: %q", l)
	}
	first.Close()
	close(hold)
	for i := 0; ; i++ {
		if l, _ := greeting(t, addr); l == "hello\n" {
			break
		}
		if i == 100 {
			t.Fatal("the place was never given back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
