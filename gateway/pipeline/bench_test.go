package pipeline

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// BenchmarkProcess10KiB is the whole pipeline for a 10 KiB message from the Internet to a
// recipient whose policy encrypts at rest: header parsing, the policy decision, the key
// lookup, PGP/MIME encryption and the durable commit, from 20 goroutines as 20 SMTP sessions
// would run it. (No SPF, DKIM or DMARC: Options.Auth is unset.)
func BenchmarkProcess10KiB(b *testing.B) {
	e := newAtRestEnv(b)
	e.p.opts.Logger = slog.New(slog.DiscardHandler)
	ctx := context.Background()
	head := "From: Someone <x@outside.test>\r\nTo: bob@example.test\r\nSubject: benchmark\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <1@outside.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 10240/63)
	msg := []byte(head + body)
	rcpt := e.rcpt("bob@example.test")
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.SetParallelism(10)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			env := &Envelope{ID: "B1", Role: RoleMX, RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "client.test",
				MailFrom: "x@outside.test", Recipients: []envelope.Recipient{rcpt}, ReceivedAt: time.Now()}
			if _, err := e.p.Process(ctx, env, msgbuf.FromBytes(msg)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
