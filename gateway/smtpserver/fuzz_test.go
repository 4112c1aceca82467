package smtpserver_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// FuzzSMTPSession sends arbitrary command streams to the real MX listener of a running
// gateway. The server must answer every line with a reply, never crash, never relay, and end
// the session when the client closes.
func FuzzSMTPSession(f *testing.F) {
	for _, s := range []string{
		"EHLO a\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n",
		"HELO a\r\nMAIL FROM:<>\r\nRCPT TO:<victim@example.org>\r\nRCPT TO:<@a,@b:c@d>\r\n",
		"EHLO a\r\nMAIL FROM:<x@y.test> SIZE=99999999999999999999 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<\"a b\"@localhost> NOTIFY=NEVER\r\n",
		"EHLO a\r\nBDAT 5 LAST\r\nhello\r\nBDAT 99999999999\r\n",
		"AUTH PLAIN AGFsaWNlAHB3\r\nSTARTTLS\r\nVRFY alice\r\nEXPN x\r\nHELP\r\nNOOP\r\nRSET\r\n",
		"\x00\xff\r\n\r\nMAIL FROM:<" + strings.Repeat("a", 300) + "@x.test>\r\n",
		"EHLO a\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<alice+tag@localhost>\r\nDATA\r\n..\r\n.\r\nQUIT\r\n",
	} {
		f.Add(s)
	}
	env := gatewaytest.Start(f)
	env.AddUser("alice@localhost", "pw-fuzz-alice")
	addr := env.GW.Addr("smtp")
	spool := env.Embedded()
	f.Fuzz(func(t *testing.T, input string) {
		if strings.Contains(strings.ToUpper(input), "STARTTLS") {
			return // would start a TLS handshake on raw input
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			io.WriteString(conn, input+"\r\nQUIT\r\n")
			conn.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("session did not end cleanly: %v", err)
		}
		if !strings.HasPrefix(string(out), "220 ") {
			t.Fatalf("no greeting: %q", out)
		}
		// Whatever the fuzzer sent, nothing was queued for relay.
		if q, err := spool.QueueEntries(t.Context()); err != nil || len(q) != 0 {
			t.Fatalf("queue after the session: %d entries, %v", len(q), err)
		}
	})
}
