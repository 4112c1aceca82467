package gateway_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/pgpmime/pgpmimetest"
	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

// Hostile input through the real MX listener: every message gets its answer within the
// gateway's limits, and what is refused leaves nothing in the store.

// bobKey gives bob a gateway-held OpenPGP key and returns its public half.
func bobKey(t *testing.T, admin *keys.Admin) *pgpmime.Key {
	t.Helper()
	kr, err := pgpmime.ReadKeys(bytes.NewReader(gatewayPGPKey(t, admin, "bob@localhost", keys.PGPOptions{})))
	if err != nil || len(kr) != 1 {
		t.Fatal(len(kr), err)
	}
	return kr[0]
}

func wantReply(t *testing.T, err error, code int, enhanced smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enhanced {
		t.Fatalf("reply %v, want %d %v", err, code, enhanced)
	}
}

func TestE2ECompressionBombsRefused(t *testing.T) {
	env, admin := securityEnv(t, func(c *config.Config) { c.Limits.MaxMessageSize = 8 * config.MiB })
	key := bobKey(t, admin)
	for _, tc := range []struct {
		name string
		opts pgpmimetest.BombOptions
	}{
		{"zlib inside zlib, 2 GiB", pgpmimetest.BombOptions{Size: 2 << 30, Nested: true}},
		{"one layer, 2 GiB", pgpmimetest.BombOptions{Size: 2 << 30}},
		{"one layer, just over max_message_size", pgpmimetest.BombOptions{Size: 8<<20 + 1}},
	} {
		armored, err := pgpmimetest.Bomb(key, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		msg := pgpmimetest.PGPMIME("sender@outside.test", "bob@localhost", tc.name, armored)
		wantReply(t, mx(t, env, "sender@outside.test", "bob@localhost", msg), 552, smtp.EnhancedCode{5, 3, 4})
	}
	if got := env.Mailbox("bob@localhost", "INBOX"); len(got) != 0 {
		t.Fatalf("bombs stored: %d messages", len(got))
	}
	// Compressed twice but within the limit: decrypted and stored as any other message (its
	// plaintext, above pipeline.StreamThreshold, takes the large-message path).
	const size = 6 << 20
	armored, err := pgpmimetest.Bomb(key, pgpmimetest.BombOptions{Size: size, Nested: true})
	if err != nil {
		t.Fatal(err)
	}
	mustMX(t, env, "sender@outside.test", "bob@localhost", pgpmimetest.PGPMIME("sender@outside.test", "bob@localhost", "fine", armored))
	got := env.Mailbox("bob@localhost", "INBOX")
	if len(got) != 1 || fieldValue(got[0].Body, "Sealgate-Security") != "received=pgp; decrypted=yes; signature=none; stored=plain" ||
		!bytes.HasSuffix(got[0].Body, []byte(pgpmimetest.Header+string(make([]byte, size)))) {
		t.Fatalf("the message within the limit: %d stored", len(got))
	}
}

// A flood of wildcard session key packets costs at most pgpmime.MaxTrialDecryptions tries:
// the real key packet behind them is not reached, and the message is kept as it came, like
// any message the gateway cannot decrypt.
func TestE2EKeyPacketFlood(t *testing.T) {
	env, admin := securityEnv(t)
	key := bobKey(t, admin)
	for _, realAt := range []int{0, 5000} {
		armored, err := pgpmimetest.KeyFlood(key, 5000, realAt)
		if err != nil {
			t.Fatal(err)
		}
		mustMX(t, env, "sender@outside.test", "bob@localhost", pgpmimetest.PGPMIME("sender@outside.test", "bob@localhost", "flood", armored))
	}
	got := env.Mailbox("bob@localhost", "INBOX")
	if len(got) != 2 {
		t.Fatalf("%d messages stored", len(got))
	}
	if h := fieldValue(got[0].Body, "Sealgate-Security"); h != "received=pgp; decrypted=yes; signature=none; stored=plain" {
		t.Fatalf("real key packet first: %s", h)
	}
	if h := fieldValue(got[1].Body, "Sealgate-Security"); h != "received=pgp; decrypted=no; signature=none; stored=pgp" {
		t.Fatalf("real key packet behind the flood: %s", h)
	}
}

// nestedMessage is a message to bob of depth nested multipart/mixed entities around a text part.
func nestedMessage(depth int) []byte {
	return mimelimittest.Nested("From: sender@outside.test\r\nTo: bob@localhost\r\nSubject: nested\r\nMIME-Version: 1.0\r\n", depth)
}

// 10,000 nested multiparts are refused at DATA, in clear or encrypted (OpenPGP, S/MIME) to a
// gateway-held key;
// 100 are the limit, accepted and stored.
func TestE2EDeepNestingRefused(t *testing.T) {
	env, admin := securityEnv(t)
	key := bobKey(t, admin)
	for _, depth := range []int{10000, mimelimit.MaxDepth + 1} {
		wantReply(t, mx(t, env, "sender@outside.test", "bob@localhost", nestedMessage(depth)), 550, smtp.EnhancedCode{5, 6, 0})
	}
	// The same inside encryption: refused once decrypted.
	var enc bytes.Buffer
	if err := pgpmime.Encrypt(&enc, bytes.NewReader(nestedMessage(mimelimit.MaxDepth+1)), pgpmime.EncryptOptions{Recipients: pgpmime.KeyRing{key}}); err != nil {
		t.Fatal(err)
	}
	wantReply(t, mx(t, env, "sender@outside.test", "bob@localhost", enc.Bytes()), 550, smtp.EnhancedCode{5, 6, 0})
	if _, err := admin.GenerateSMIME(context.Background(), "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	certPEM, err := admin.ExportSMIME(context.Background(), "bob@localhost", false)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	enc.Reset()
	if err := smime.Encrypt(&enc, bytes.NewReader(nestedMessage(mimelimit.MaxDepth+1)), smime.EncryptOptions{Recipients: []*x509.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	wantReply(t, mx(t, env, "sender@outside.test", "bob@localhost", enc.Bytes()), 550, smtp.EnhancedCode{5, 6, 0})
	if got := env.Mailbox("bob@localhost", "INBOX"); len(got) != 0 {
		t.Fatalf("%d messages stored", len(got))
	}
	mustMX(t, env, "sender@outside.test", "bob@localhost", nestedMessage(mimelimit.MaxDepth))
	if got := env.Mailbox("bob@localhost", "INBOX"); len(got) != 1 {
		t.Fatalf("%d messages stored", len(got))
	}
}

// BenchmarkHostileSMTP measures the time and the bytes allocated (client and whole gateway)
// to answer each hostile message through the MX listener with the default limits
// (max_message_size 50 MiB): the figures in docs/PERFORMANCE.md.
func BenchmarkHostileSMTP(b *testing.B) {
	env := gatewaytest.Start(b)
	env.AddUser("bob@localhost", bobPW)
	admin := env.GW.Keyring().Admin("bench")
	kr, err := pgpmime.ReadKeys(bytes.NewReader(gatewayPGPKey(b, admin, "bob@localhost", keys.PGPOptions{Algorithm: "rsa3072"})))
	if err != nil {
		b.Fatal(err)
	}
	wrap := func(armored []byte, err error) []byte {
		if err != nil {
			b.Fatal(err)
		}
		return pgpmimetest.PGPMIME("sender@outside.test", "bob@localhost", "hostile", armored)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"NestedBomb2GiB", wrap(pgpmimetest.Bomb(kr[0], pgpmimetest.BombOptions{Size: 2 << 30, Nested: true}))},
		{"Bomb2GiB", wrap(pgpmimetest.Bomb(kr[0], pgpmimetest.BombOptions{Size: 2 << 30}))},
		{"Nesting10000", nestedMessage(10000)},
		{"Nesting20000", nestedMessage(20000)},
		{"KeyFlood5000RSA", wrap(pgpmimetest.KeyFlood(kr[0], 5000, 5000))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.msg)))
			runtime.GC()
			peak := heapPeak()
			for i := 0; i < b.N; i++ {
				c, err := smtp.Dial(env.GW.Addr("smtp"))
				if err != nil {
					b.Fatal(err)
				}
				c.SendMail("sender@outside.test", []string{"bob@localhost"}, bytes.NewReader(tc.msg))
				c.Close()
			}
			b.ReportMetric(float64(peak()), "peak-heap-B")
		})
	}
}

// heapPeak samples the heap in use every millisecond until the returned function is called,
// which reports the highest value above the heap at the start.
func heapPeak() func() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var top uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				done <- top
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > base && ms.HeapInuse-base > top {
					top = ms.HeapInuse - base
				}
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
