package wiretest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// FreeAddr is an address on 127.0.0.1 that nothing listened on when it was returned: for a
// server the test starts later (a separate process, a configuration file), or for a peer
// that is down.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreePort is the port of a FreeAddr.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// Dial connects to addr with a deadline of timeout for the whole session; the connection is
// closed when the test ends, if it is not before.
func Dial(t testing.TB, addr string, timeout time.Duration) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(timeout))
	return c
}

// DialerFrom is a dialer whose connections come from the loopback address local: 127.0.0.2
// and up play other clients and networks (a trusted relay, an abusive peer) on one machine.
func DialerFrom(local string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
}

// DialFrom connects to addr from the loopback address local (see DialerFrom); the connection
// is closed when the test ends, if it is not before.
func DialFrom(t testing.TB, local, addr string) net.Conn {
	t.Helper()
	c, err := DialerFrom(local).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// SMTPFrom opens an SMTP session to addr from the loopback address local and says EHLO.
func SMTPFrom(t testing.TB, local, addr string) *smtp.Client {
	t.Helper()
	c := smtp.NewClient(DialFrom(t, local, addr))
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	return c
}
