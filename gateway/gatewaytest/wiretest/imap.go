package wiretest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"
)

// IMAP is a raw IMAP session over TLS, for a test that keeps one session open across what it
// checks (a certificate renewal, a reload): no client library stands between the test and
// the wire.
type IMAP struct {
	t    testing.TB
	conn *tls.Conn
	r    *bufio.Reader
}

// DialIMAP connects to an IMAP-over-TLS listener and reads the greeting; the session ends
// with the test.
func DialIMAP(t testing.TB, addr string, cfg *tls.Config) *IMAP {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &IMAP{t: t, conn: conn, r: bufio.NewReader(conn)}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.r.ReadString('\n'); err != nil {
		t.Fatalf("IMAP greeting: %v", err)
	}
	return c
}

// Command sends "tag cmd" and returns the tagged reply line, skipping untagged ones.
func (c *IMAP) Command(tag, cmd string) string {
	c.t.Helper()
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c.conn, "%s %s\r\n", tag, cmd)
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("%s: %v", cmd, err)
		}
		if strings.HasPrefix(line, tag+" ") {
			return line
		}
	}
}
