package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/keys"
)

// bodyHasher hashes what follows the first blank line.
type bodyHasher struct {
	h    hash.Hash
	tail []byte
	in   bool
}

func (b *bodyHasher) Write(p []byte) (int, error) {
	if b.in {
		return b.h.Write(p)
	}
	buf := append(b.tail, p...)
	if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
		b.in = true
		b.h.Write(buf[i+4:])
		return len(p), nil
	}
	b.tail = append([]byte(nil), buf[max(0, len(buf)-3):]...)
	return len(p), nil
}

// newAtRestEnv is a pipeline whose bob@example.test has an OpenPGP key and inbound.encrypt=pgp,
// with a spill directory for large messages.
func newAtRestEnv(t testing.TB) *secEnv {
	t.Helper()
	e := newSecEnv(t)
	if _, err := e.admin.GeneratePGP(context.Background(), "bob@example.test", keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	e.policy("bob@example.test", "inbound.encrypt", "pgp")
	e.p.opts.SpillDir = t.TempDir()
	return e
}

// TestLargeMessageStreams sends a 50 MiB message through inbound.encrypt=pgp: the heap stays
// far below the message size, the stored copy is encrypted, and it decrypts to the original.
func TestLargeMessageStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MiB")
	}
	e := newAtRestEnv(t)
	ctx := context.Background()

	// As the SMTP server does: the message goes into a msgbuf (spilled, encrypted).
	msg := msgbuf.New(msgbuf.Options{Dir: t.TempDir()})
	io.WriteString(msg, "Sealgate-Security: received=pgp; decrypted=yes; stored=plain\r\n"+
		"From: x@outside.test\r\nTo: bob@example.test\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n")
	want := sha256.New()
	line := make([]byte, 0, 80)
	for i := 0; msg.Size() < 50<<20; i++ {
		line = fmt.Appendf(line[:0], "%07d %s %s\r\n", i, secret, strings.Repeat(string(rune('a'+i%26)), 40))
		msg.Write(line)
		want.Write(line)
	}
	if err := msg.Finish(); err != nil {
		t.Fatal(err)
	}
	defer msg.Discard()

	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	env := &Envelope{ID: "T1", Role: RoleMX, RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "client.test",
		MailFrom: "x@outside.test", ReceivedAt: time.Now(), Recipients: []envelope.Recipient{e.rcpt("bob@example.test")}}
	_, err := e.p.Process(ctx, env, msg)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	growth := int64(peak) - int64(before)
	t.Logf("heap in use: %d MiB before, peak growth %d MiB", before>>20, growth>>20)
	if growth > 32<<20 {
		t.Fatalf("heap grew by %d MiB for a 50 MiB message", growth>>20)
	}

	bob := e.inbox("bob@example.test")[0]
	if bytes.Contains(bob, []byte(secret)) {
		t.Fatal("plaintext stored for a recipient who wants encryption at rest")
	}
	if got := header(bob, "Sealgate-Security"); got != "received=plain; signature=none; stored=pgp" {
		t.Fatalf("Sealgate-Security %q", got)
	}
	ring, _ := e.kr.DecryptionKeysPGP(ctx, "bob@example.test")
	got := &bodyHasher{h: sha256.New()}
	if _, err := pgpmime.Decrypt(got, bytes.NewReader(bob), ring, pgpmime.DecryptOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.h.Sum(nil), want.Sum(nil)) {
		t.Fatal("the decrypted body differs from the original")
	}
}

// A large S/MIME message sent as application/octet-stream named *.p7m (as some clients do) is
// recognised as encrypted on the streaming path as on the small one: it is stored as received,
// never encrypted a second time.
func TestLargeP7MNotEncryptedAgain(t *testing.T) {
	e := newAtRestEnv(t)
	var b strings.Builder
	b.WriteString("From: x@outside.test\r\nTo: bob@example.test\r\nSubject: p7m\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: application/octet-stream; name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for b.Len() <= StreamThreshold+1024 {
		b.WriteString("MIAGCSqGSIb3DQEHA6CAMIACAQAxggFtMIIBaQIBADBRMEUxCzAJBgNVBAYTAkFVMRMwEQYD\r\n")
	}
	if err := e.process(RoleMX, "x@outside.test", b.String(), "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	bob := e.inbox("bob@example.test")[0]
	if got := header(bob, "Sealgate-Security"); !strings.HasSuffix(got, "stored=smime") {
		t.Fatalf("Sealgate-Security %q: the S/MIME message was encrypted again", got)
	}
	if !bytes.HasSuffix(bob, []byte(b.String()[strings.Index(b.String(), "\r\n\r\n"):])) {
		t.Fatal("the body was changed")
	}
}
