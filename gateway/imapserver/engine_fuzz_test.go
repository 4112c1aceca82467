package imapserver

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/listener"
)

// fakeConn is a client as the engine sees it: bytes to read, a sink for writes.
type fakeConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if len(p) > 7 { // small reads: lines and literals split across them
		p = p[:7]
	}
	return c.in.Read(p)
}
func (c *fakeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *fakeConn) Close() error                { return nil }
func (c *fakeConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 143} }
func (c *fakeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 40000}
}
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzEngine: whatever a client sends before login, the engine neither panics nor loops,
// answers every command it reads with lines that end in CRLF, and runs no command from the
// bytes of a literal: every tagged response names a tag that starts a line of the input.
func FuzzEngine(f *testing.F) {
	for _, s := range []string{
		"a CAPABILITY\r\nb NOOP\r\nc LOGOUT\r\n",
		"a LOGIN {3+}\r\nabc {3+}\r\ndef\r\n",
		"c APPEND INBOX {6000+}\r\nz1 CREATE X\r\n",
		"a ID (\"name\" {4+}\r\ntest)\r\nb LOGOUT\r\n",
		"a AUTHENTICATE PLAIN\r\n*\r\nb STARTTLS\r\n",
		"a SEARCH TEXT {99999999999999999999+}\r\n",
		"x {0+}\r\n\r\n",
		"a FROBNICATE {5+}\r\nz LOGOUT\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := &Server{opts: Options{MaxMessageSize: 1 << 20, IdleTimeout: time.Minute}, log: slog.New(slog.DiscardHandler),
			sessions: map[*session]struct{}{}}
		srv.ln = listener.New(listener.Options{Logger: srv.log})
		c := &fakeConn{in: bytes.NewReader(in)}
		done := make(chan struct{})
		go func() { srv.serve(c); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the session did not end at the end of its input")
		}
		lines := strings.Split(string(in), "\n")
		sent := func(tag string) bool {
			for _, l := range lines {
				if strings.HasPrefix(l, tag) {
					return true
				}
			}
			return tag == "*" || tag == "+" || tag == ""
		}
		out := c.out.String()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("output does not end a line: %q", out)
		}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			tag, _, _ := strings.Cut(l, " ")
			if !sent(tag) && !strings.HasPrefix(l, "{") {
				t.Fatalf("response %q for a tag the client never sent\ninput %q", l, in)
			}
		}
	})
}
