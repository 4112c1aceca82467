package smtpserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// writeCounter counts the writes the server makes to the connections of a loopback listener.
type writeCounter struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, n: &l.writes}, nil
}

type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// engineServer serves an MX on loopback for tests of the protocol engine alone. The commands
// these tests send never reach the account lookup or the pipeline (a recipient outside the
// local domain is refused before any lookup), so neither is set up.
func engineServer(t *testing.T) (*Server, *writeCounter, chan error) {
	t.Helper()
	srv, err := New(Options{
		Hostname:      "mx.example.test",
		Role:          pipeline.RoleMX,
		IsLocalDomain: func(d string) bool { return d == "localhost" },
		Accounts:      (*mailstore.Store)(nil),
		Pipeline:      (*pipeline.Pipeline)(nil),
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wc := &writeCounter{Listener: ln}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(wc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		srv.Shutdown(ctx)
	})
	return srv, wc, served
}

func dialEngine(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 mx.example.test ESMTP") {
		t.Fatalf("greeting %q %v", line, err)
	}
	return c, r
}

// TestPipelinedRepliesInOneWrite sends a group of commands in one packet: the replies come in
// order, in one write (RFC 2920), and the server does not wait for more input before sending
// them.
func TestPipelinedRepliesInOneWrite(t *testing.T) {
	_, wc, _ := engineServer(t)
	c, r := dialEngine(t, wc.Addr().String())
	if n := wc.writes.Load(); n != 1 {
		t.Fatalf("%d writes for the greeting", n)
	}
	io.WriteString(c, "EHLO client.example.org\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"+
		"RCPT TO:<c@example.org>\r\nNOOP\r\nRSET\r\nVRFY x\r\nDATA\r\nQUIT\r\n")
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var firsts []string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		if line[3] == ' ' {
			firsts = append(firsts, line[:min(len(line), 9)])
		}
	}
	want := []string{"250 LIMIT", "250 2.0.0", "554 5.7.1", "554 5.7.1", "250 2.0.0", "250 2.0.0", "252 2.5.0", "503 5.5.1", "221 2.0.0"}
	if strings.Join(firsts, "|") != strings.Join(want, "|") {
		t.Fatalf("replies %q, want %q", firsts, want)
	}
	if n := wc.writes.Load(); n != 2 {
		t.Fatalf("%d writes for the greeting and one pipelined group, want 2", n)
	}
}

// TestRepliesFlushedBeforeWaiting sends one command at a time: each reply must come without
// further input (the test would time out otherwise), one write per reply.
func TestRepliesFlushedBeforeWaiting(t *testing.T) {
	_, wc, _ := engineServer(t)
	c, r := dialEngine(t, wc.Addr().String())
	for i, cmd := range []string{"EHLO c", "NOOP", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "RSET"} {
		io.WriteString(c, cmd+"\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if line[3] == ' ' {
				break
			}
		}
		if n := wc.writes.Load(); n != int64(i+2) {
			t.Fatalf("after %s: %d writes", cmd, n)
		}
	}
}

func TestShutdown(t *testing.T) {
	srv, wc, served := engineServer(t)
	c, r := dialEngine(t, wc.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := net.Dial("tcp", wc.Addr().String()); err == nil {
		t.Fatal("a new connection was accepted after Shutdown")
	}
	// The open session goes on until the context ends.
	io.WriteString(c, "NOOP\r\n")
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "250 ") {
		t.Fatalf("open session during shutdown: %q %v", line, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if b, err := r.ReadByte(); err == nil {
		t.Fatalf("session still open after the context ended: read %q", b)
	}
	if err := srv.Shutdown(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := srv.Serve(wc); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownWaitsForSessions(t *testing.T) {
	srv, wc, _ := engineServer(t)
	c, r := dialEngine(t, wc.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	io.WriteString(c, "QUIT\r\n")
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "221 ") {
		t.Fatalf("QUIT: %q %v", line, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown after the last session ended: %v", err)
	}
}

// TestConnectionsReuseWorkers: one connection after another is served by the goroutine that
// served the one before, and a waiting worker ends at Shutdown.
func TestConnectionsReuseWorkers(t *testing.T) {
	srv, wc, served := engineServer(t)
	for i := range 20 {
		c, r := dialEngine(t, wc.Addr().String())
		io.WriteString(c, "QUIT\r\n")
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "221 ") {
			t.Fatalf("connection %d: %q %v", i, line, err)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("connection %d not closed after QUIT: %v", i, err)
		}
		// The server closes before its worker waits for the next connection: wait for that,
		// or the next connection would find no worker waiting. (A connection that comes
		// between the worker counting itself waiting and its receive still gets a new
		// goroutine, so a few may start on a busy machine.)
		for j := 0; j < 200 && srv.workers.waiting.Load() == 0; j++ {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Millisecond)
	}
	if n := srv.workers.started.Load(); n > 5 {
		t.Fatalf("20 connections one after another started %d goroutines: they were not reused", n)
	}
	before := runtime.NumGoroutine()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-served
	for j := 0; j < 200 && runtime.NumGoroutine() >= before; j++ {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n >= before {
		t.Fatalf("the waiting worker did not end at Shutdown: %d goroutines, %d before", n, before)
	}
}
