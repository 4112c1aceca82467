package imapserver

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// fakeConn is the client side as the guard sees it: bytes to read, a sink for writes.
type fakeConn struct {
	net.Conn
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if len(p) > 7 { // small reads: exercise lines and literals split across them
		p = p[:7]
	}
	return c.in.Read(p)
}
func (c *fakeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *fakeConn) Close() error                { return nil }

// FuzzCommandGuard: whatever the client sends, the guard neither panics nor loops, and while
// the server takes every literal (it answers none of them) it hands every byte on unchanged.
// When the server answers each literal header with its tagged refusal, the guard hands on
// no more than it read.
func FuzzCommandGuard(f *testing.F) {
	for _, s := range []string{
		"a LOGIN x y\r\n",
		"c APPEND INBOX {6000+}\r\nz1 CREATE X\r\n",
		"a APPEND INBOX (\\Seen) {5}\r\nhello\r\nb NOOP\r\n",
		"a LOGIN {3+}\r\nabc {3+}\r\ndef\r\n",
		"a SEARCH TEXT {99999999999999999999+}\r\n",
		"t STARTTLS\r\n",
		"x {0+}\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, refuse bool) {
		c := &fakeConn{in: bytes.NewReader(in)}
		g := newCommandGuard(c, 1<<20)
		var got bytes.Buffer
		buf := make([]byte, 64)
		for i := 0; i < 10*len(in)+100; i++ {
			n, err := g.Read(buf)
			got.Write(buf[:n])
			g.mu.Lock()
			h := g.header
			g.mu.Unlock()
			if h != nil && refuse {
				g.Write([]byte(h.tag + " BAD refused\r\n"))
			}
			if err != nil {
				if !refuse && err == io.EOF && !bytes.Equal(got.Bytes(), in) {
					t.Fatalf("bytes changed with every literal taken:\nin  %q\nout %q", in, got.Bytes())
				}
				if got.Len() > len(in) {
					t.Fatalf("handed on more than was read")
				}
				return
			}
		}
		t.Fatalf("no end after %d reads of %d bytes", 10*len(in)+100, len(in))
	})
}
