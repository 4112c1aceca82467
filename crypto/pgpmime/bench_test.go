package pgpmime

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/bodytest"
	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

const msgHeader = "From: Test Ed <ed@sealgate.test>\r\nTo: rsa@sealgate.test\r\nSubject: bench\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"

// body returns a message with n bytes of text body.
func body(n int) []byte {
	line := "The quick brown fox jumps over the lazy dog 0123456789 abcdefghij.\r\n"
	return []byte(msgHeader + strings.Repeat(line, n/len(line)+1)[:n])
}

// bigMessage streams a message with n bytes of body without holding it.
func bigMessage(n int64) io.Reader {
	line := []byte("The quick brown fox jumps over the lazy dog 0123456789 abcdefghij.\r\n")
	return io.MultiReader(strings.NewReader(msgHeader), io.LimitReader(bodytest.Repeat(line), n))
}

func benchKeys(b *testing.B) (x25519, rsa KeyRing, signer *Key) {
	x := loadKeys(b, fixture(b, "ed25519-secret.asc"))
	r := loadKeys(b, fixture(b, "rsa3072-secret.asc"))
	return x, r, x[0]
}

// namedKeyRing is one recipient of the 10 KiB benchmarks, named by its algorithm.
type namedKeyRing struct {
	name string
	keys KeyRing
}

// benchRecipients are the recipients the 10 KiB benchmarks encrypt to and decrypt for.
func benchRecipients(b *testing.B) []namedKeyRing {
	x, r, _ := benchKeys(b)
	return []namedKeyRing{{"X25519", x}, {"RSA3072", r}}
}

func BenchmarkEncrypt10KiB(b *testing.B) {
	msg := body(10 << 10)
	for _, tc := range benchRecipients(b) {
		b.Run(tc.name, func(b *testing.B) {
			cryptotest.Throughput(b, int64(len(msg)), func() error {
				return Encrypt(io.Discard, bytes.NewReader(msg), EncryptOptions{Recipients: tc.keys})
			})
		})
	}
}

func BenchmarkSign10KiB(b *testing.B) {
	_, _, signer := benchKeys(b)
	msg := body(10 << 10)
	cryptotest.Throughput(b, int64(len(msg)), func() error {
		return Sign(io.Discard, bytes.NewReader(msg), SignOptions{Signer: signer})
	})
}

func BenchmarkDecrypt10KiB(b *testing.B) {
	msg := body(10 << 10)
	for _, tc := range benchRecipients(b) {
		b.Run(tc.name, func(b *testing.B) {
			var ct bytes.Buffer
			if err := Encrypt(&ct, bytes.NewReader(msg), EncryptOptions{Recipients: tc.keys}); err != nil {
				b.Fatal(err)
			}
			cryptotest.Throughput(b, int64(len(msg)), func() error {
				_, err := Decrypt(io.Discard, bytes.NewReader(ct.Bytes()), tc.keys, DecryptOptions{})
				return err
			})
		})
	}
}

const big = 50 << 20

// BenchmarkStream50MiB encrypts and decrypts a 50 MiB message through
// files; allocations per op stay far below the message size.
func BenchmarkStream50MiB(b *testing.B) {
	x, _, _ := benchKeys(b)
	path := filepath.Join(b.TempDir(), "ct.eml")
	b.Run("Encrypt", func(b *testing.B) {
		cryptotest.Throughput(b, big, func() error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return Encrypt(f, bigMessage(big), EncryptOptions{Recipients: x})
		})
	})
	b.Run("Decrypt", func(b *testing.B) {
		cryptotest.Throughput(b, big, func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = Decrypt(io.Discard, f, x, DecryptOptions{})
			return err
		})
	})
}

// TestStreamingMemory encrypts and decrypts 50 MiB while sampling the
// heap: it must stay far below the message size.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MiB round trip")
	}
	x := loadKeys(t, fixture(t, "ed25519-secret.asc"))
	path := filepath.Join(t.TempDir(), "ct.eml")
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	f, _ := os.Create(path)
	if err := Encrypt(f, bigMessage(big), EncryptOptions{Recipients: x}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, _ = os.Open(path)
	var n countWriter
	if _, err := Decrypt(&n, f, x, DecryptOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	close(stop)
	<-done
	if n < big {
		t.Fatalf("decrypted %d bytes", n)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %d KiB for a 50 MiB message", grew>>10)
	if grew > 24<<20 {
		t.Fatalf("heap grew by %d MiB: not streaming", grew>>20)
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
