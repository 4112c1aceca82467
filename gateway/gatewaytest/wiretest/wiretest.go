// Package wiretest drives the line protocol of a real server (SMTP, POP3, IMAP) over loopback
// without a client library: as a client that need not follow the protocol (the harness of the
// session fuzzers), or as one session kept open across what a test checks. It is imported by
// tests only.
package wiretest

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Session connects to addr, sends input and then the line quit, closes its side for writing,
// and returns all the server sent until it closed the connection. A command still waiting for
// more (an AUTH continuation) ends with the stream. It fails t when the session does not end
// cleanly within timeout, and when the server's first line does not start with greeting.
func Session(t testing.TB, addr, input, quit, greeting string, timeout time.Duration) []byte {
	t.Helper()
	conn := Dial(t, addr, timeout)
	go func() {
		io.WriteString(conn, input+"\r\n"+quit+"\r\n")
		conn.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("session did not end cleanly: %v", err)
	}
	if !strings.HasPrefix(string(out), greeting) {
		t.Fatalf("no greeting: %q", out)
	}
	return out
}

// StartsTLS reports whether input holds verb (STARTTLS, STLS), which would start a TLS
// handshake on raw input: a fuzzer skips such input.
func StartsTLS(input, verb string) bool {
	return strings.Contains(strings.ToUpper(input), verb)
}
