package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
)

// noBareLineEnds fails unless every CR and LF in b is part of a CRLF.
func noBareLineEnds(t *testing.T, b []byte) {
	t.Helper()
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') || c == '\n' && (i == 0 || b[i-1] != '\r') {
			t.Fatalf("bare %q at %d on the wire:\n%q", c, i, b)
		}
	}
}

// TestDeliverNormalisesBareLineEnds sends content with bare CRs and LFs, some of them around
// a dot and an SMTP command (the SMTP smuggling pattern), and reads the raw bytes the peer got.
func TestDeliverNormalisesBareLineEnds(t *testing.T) {
	p := deliverytest.StartRaw(t, deliverytest.RawOptions{})
	c := delivery.New(delivery.Options{Hostname: "mx.example.test", Routes: map[string]delivery.Route{"remote.test": {Addr: p.Addr}}})
	for _, tc := range []struct{ in, want string }{
		{"Subject: x\r\n\r\nhello\r.\rMAIL FROM:<mallory@evil.test>\r\n", "Subject: x\r\n\r\nhello\r\n..\r\nMAIL FROM:<mallory@evil.test>\r\n"},
		{"Subject: x\n\nhello\n.\nRCPT TO:<bob@remote.test>", "Subject: x\r\n\r\nhello\r\n..\r\nRCPT TO:<bob@remote.test>\r\n"},
		{"a\r\r\n.\r\n\r", "a\r\n\r\n..\r\n\r\n"},
		{".\n\r.", "..\r\n\r\n..\r\n"},
		{"plain\r\n.dot\r\n", "plain\r\n..dot\r\n"},
	} {
		before := len(p.Messages())
		want(t, c.Deliver(context.Background(), message(tc.in, "bob@remote.test")), delivery.Delivered, "2.0.0")
		got := p.Messages()
		if len(got) != before+1 {
			t.Fatalf("%q: %d messages arrived", tc.in, len(got)-before)
		}
		wire := got[len(got)-1]
		noBareLineEnds(t, wire)
		if string(wire) != tc.want {
			t.Fatalf("%q went out as\n%q, want\n%q", tc.in, wire, tc.want)
		}
	}
	if !p.Wait(5*time.Second, func(p *deliverytest.RawPeer) bool { return p.Mails() == 5 }) {
		t.Fatalf("%d MAIL commands for 5 messages", p.Mails())
	}
}
