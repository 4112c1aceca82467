package gateway_test

import (
	"bufio"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// rawSubmit submits msg through the submission listener exactly as given, bare CRs and LFs
// included (an SMTP client library would fix the line ends on the way), then ends DATA.
func rawSubmit(t *testing.T, env *gatewaytest.Env, from, password, rcpt, msg string) {
	t.Helper()
	c, err := net.Dial("tcp", env.GW.Addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("got %q, want %s", line, code)
			}
			if line[3] == ' ' {
				return
			}
		}
	}
	send := func(s, code string) {
		t.Helper()
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		expect(code)
	}
	expect("220")
	send("EHLO client.test\r\n", "250")
	send("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+from+"\x00"+password))+"\r\n", "235")
	send("MAIL FROM:<"+from+">\r\n", "250")
	send("RCPT TO:<"+rcpt+">\r\n", "250")
	send("DATA\r\n", "354")
	send(msg+"\r\n.\r\n", "250")
	send("QUIT\r\n", "221")
}

// TestSubmittedBareCRAndLFLeaveAsCRLF submits mail whose content carries the SMTP smuggling
// patterns "<CR>.<CR>" and "<LF>.<LF>" followed by SMTP commands, routes it to a peer that
// records the raw bytes, and checks that one message arrives with only CRLF line ends.
func TestSubmittedBareCRAndLFLeaveAsCRLF(t *testing.T) {
	peer := deliverytest.StartRaw(t, deliverytest.RawOptions{})
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Auth.PlaintextOnLoopback = true
		c.Outbound.Routes = map[string]string{"remote.test": peer.Addr}
	})
	env.AddUser("alice@localhost", alicePW)
	msg := "From: alice@localhost\r\nTo: carol@remote.test\r\nSubject: smuggle\r\n\r\n" +
		"hello\r.\rMAIL FROM:<admin@remote.test>\rRCPT TO:<carol@remote.test>\rDATA\r" +
		"forged by CR\r.\r" +
		"and\n.\nMAIL FROM:<admin@remote.test>\nRCPT TO:<carol@remote.test>\nDATA\nforged by LF\n.\n" +
		"end\r\n"
	rawSubmit(t, env, "alice@localhost", alicePW, "carol@remote.test", msg)
	eventually(t, "empty queue", queueEmpty(t, env))
	got := peer.Messages()
	if len(got) != 1 || peer.Mails() != 1 {
		t.Fatalf("the peer got %d messages in %d transactions", len(got), peer.Mails())
	}
	wire := got[0]
	for i, c := range wire {
		if c == '\r' && (i+1 == len(wire) || wire[i+1] != '\n') || c == '\n' && (i == 0 || wire[i-1] != '\r') {
			t.Fatalf("bare %q at %d on the wire:\n%q", c, i, wire)
		}
	}
	for _, want := range []string{
		"\r\nhello\r\n..\r\nMAIL FROM:<admin@remote.test>\r\nRCPT TO:<carol@remote.test>\r\nDATA\r\nforged by CR\r\n..\r\n",
		"and\r\n..\r\nMAIL FROM:<admin@remote.test>\r\n",
		"forged by LF\r\n..\r\nend\r\n",
	} {
		if !strings.Contains(string(wire), want) {
			t.Fatalf("the wire lacks %q:\n%q", want, wire)
		}
	}
}
