package wiretest

import (
	"net"
	"strconv"
	"testing"
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
