package callout_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/callout"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// FuzzCalloutReplies feeds arbitrary bytes as the next hop's side of a probe: the checker
// must answer without panicking, and only a well-formed 5xx to RCPT may refuse.
func FuzzCalloutReplies(f *testing.F) {
	f.Add([]byte("220 hi\r\n250 ok\r\n250 ok\r\n550 5.1.1 no\r\n"))
	f.Add([]byte("220 hi\r\n250-x\r\n250 SMTPUTF8\r\n250 ok\r\n250 ok\r\n"))
	f.Add([]byte("220 hi\r\n502 no\r\n250 helo\r\n250 ok\r\n451 later\r\n"))
	f.Add([]byte("220-a\r\n220 b\r\n250 ok\r\n550 no sender\r\n"))
	f.Fuzz(func(t *testing.T, server []byte) {
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, s := net.Pipe()
			go func() {
				defer s.Close()
				go io.Copy(io.Discard, s)
				s.Write(server)
			}()
			return c, nil
		}
		c, err := callout.New(callout.Options{Hostname: "gw.test", Dial: dial, Timeout: time.Second,
			NextHop: func(string) (string, bool) { return "next.hop:25", true }})
		if err != nil {
			t.Fatal(err)
		}
		res := c.Check(context.Background(), gatewaytest.Address(t, "a@corp.test"))
		if res < callout.Unknown || res > callout.NoSuchUser {
			t.Fatalf("result %d", res)
		}
	})
}
