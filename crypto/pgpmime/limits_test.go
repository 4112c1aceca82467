package pgpmime_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/pgpmime/pgpmimetest"
)

// Hostile input: compression bombs and session key floods get a bounded answer.

func ring(t testing.TB, name string) pgpmime.KeyRing {
	t.Helper()
	f, err := os.Open(filepath.Join(cryptotest.Testdata(t), "pgp", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kr, err := pgpmime.ReadKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// countingWriter counts what Decrypt writes: the plaintext it took from the decompressor.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func TestDecryptCompressionBombs(t *testing.T) {
	kr := ring(t, "ed25519-secret.asc")
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		opts pgpmimetest.BombOptions
	}{
		{"single layer", pgpmimetest.BombOptions{Size: 2 << 30}},
		{"zlib inside zlib", pgpmimetest.BombOptions{Size: 2 << 30, Nested: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			armored, err := pgpmimetest.Bomb(kr[0], tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			msg := pgpmimetest.PGPMIME("a@example.test", "b@example.test", "bomb", armored)
			if tc.opts.Nested && len(msg) > 200<<10 {
				t.Fatalf("the bomb is %d bytes", len(msg))
			}
			var out countingWriter
			_, err = pgpmime.Decrypt(&out, bytes.NewReader(msg), kr, pgpmime.DecryptOptions{MaxPlaintext: limit})
			if !errors.Is(err, pgpmime.ErrPlaintextTooLarge) {
				t.Fatalf("err = %v, want ErrPlaintextTooLarge", err)
			}
			// The outer header fields are written too; the plaintext is at most the limit
			// and the one byte that shows it is exceeded.
			if out.n > limit+4096 {
				t.Fatalf("%d bytes written for a limit of %d", out.n, limit)
			}
			// Inline, the same bomb is bounded the same way.
			inline := []byte("From: a@example.test\r\nContent-Type: text/plain\r\n\r\n" + string(armored))
			if _, err := pgpmime.Decrypt(io.Discard, bytes.NewReader(inline), kr, pgpmime.DecryptOptions{MaxPlaintext: limit}); !errors.Is(err, pgpmime.ErrPlaintextTooLarge) {
				t.Fatalf("inline: err = %v, want ErrPlaintextTooLarge", err)
			}
		})
	}
}

// A message whose plaintext is within the limit decrypts, compressed twice or not: the
// limit is on the plaintext, not on compression.
func TestDecryptCompressedWithinLimit(t *testing.T) {
	kr := ring(t, "ed25519-secret.asc")
	for _, nested := range []bool{false, true} {
		armored, err := pgpmimetest.Bomb(kr[0], pgpmimetest.BombOptions{Size: 1000, Nested: nested})
		if err != nil {
			t.Fatal(err)
		}
		msg := pgpmimetest.PGPMIME("a@example.test", "b@example.test", "small", armored)
		var out bytes.Buffer
		limit := int64(len(pgpmimetest.Header) + 1000)
		if _, err := pgpmime.Decrypt(&out, bytes.NewReader(msg), kr, pgpmime.DecryptOptions{MaxPlaintext: limit}); err != nil {
			t.Fatalf("nested=%v: %v", nested, err)
		}
		if !bytes.HasSuffix(out.Bytes(), make([]byte, 1000)) {
			t.Fatalf("nested=%v: plaintext not restored", nested)
		}
	}
}

// A flood of wildcard session key packets: the real one among the first
// MaxTrialDecryptions tried opens the message, one behind them does not.
func TestDecryptKeyFlood(t *testing.T) {
	for _, name := range []string{"ed25519-secret.asc", "rsa3072-secret.asc"} {
		kr := ring(t, name)
		for _, tc := range []struct {
			realAt int
			want   error
		}{
			{0, nil},
			{pgpmime.MaxTrialDecryptions - 1, nil},
			{pgpmime.MaxTrialDecryptions, pgpmime.ErrNoKey},
			{200, pgpmime.ErrNoKey},
		} {
			armored, err := pgpmimetest.KeyFlood(kr[0], 200, tc.realAt)
			if err != nil {
				t.Fatal(err)
			}
			msg := pgpmimetest.PGPMIME("a@example.test", "b@example.test", "flood", armored)
			var out bytes.Buffer
			_, err = pgpmime.Decrypt(&out, bytes.NewReader(msg), kr, pgpmime.DecryptOptions{})
			if !errors.Is(err, tc.want) || err != nil && tc.want == nil {
				t.Fatalf("%s, real key packet at %d: err = %v, want %v", name, tc.realAt, err, tc.want)
			}
			if tc.want == nil && !bytes.Contains(out.Bytes(), []byte("Found after the flood.")) {
				t.Fatalf("%s, real key packet at %d: not decrypted", name, tc.realAt)
			}
		}
	}
}

func BenchmarkHostile(b *testing.B) {
	x := ring(b, "ed25519-secret.asc")
	r := ring(b, "rsa3072-secret.asc")
	for _, tc := range []struct {
		name string
		kr   pgpmime.KeyRing
		make func() ([]byte, error)
	}{
		{"Bomb2GiB", x, func() ([]byte, error) { return pgpmimetest.Bomb(x[0], pgpmimetest.BombOptions{Size: 2 << 30}) }},
		{"NestedBomb2GiB", x, func() ([]byte, error) {
			return pgpmimetest.Bomb(x[0], pgpmimetest.BombOptions{Size: 2 << 30, Nested: true})
		}},
		{"KeyFlood5000RSA", r, func() ([]byte, error) { return pgpmimetest.KeyFlood(r[0], 5000, 5000) }},
	} {
		armored, err := tc.make()
		if err != nil {
			b.Fatal(err)
		}
		msg := pgpmimetest.PGPMIME("a@example.test", "b@example.test", "hostile", armored)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				// The default bound: max_message_size's default.
				pgpmime.Decrypt(io.Discard, bytes.NewReader(msg), tc.kr, pgpmime.DecryptOptions{MaxPlaintext: 50 << 20})
			}
		})
	}
}

// FuzzDecryptBounded feeds Decrypt variations of hostile messages (bombs, floods, their
// binary packets without armor): whatever it makes of them, it never writes more than the
// plaintext bound allows.
func FuzzDecryptBounded(f *testing.F) {
	kr := ring(f, "ed25519-secret.asc")
	const limit = 64 << 10
	seed := func(armored []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pgpmimetest.PGPMIME("a@example.test", "b@example.test", "seed", armored))
		f.Add([]byte("Content-Type: text/plain\r\n\r\n" + string(armored)))
	}
	seed(pgpmimetest.Bomb(kr[0], pgpmimetest.BombOptions{Size: 4 << 20}))
	seed(pgpmimetest.Bomb(kr[0], pgpmimetest.BombOptions{Size: 4 << 20, Nested: true}))
	seed(pgpmimetest.Bomb(kr[0], pgpmimetest.BombOptions{Size: 100}))
	seed(pgpmimetest.KeyFlood(kr[0], 40, 20))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var out countingWriter
		pgpmime.Decrypt(&out, bytes.NewReader(msg), kr, pgpmime.DecryptOptions{MaxPlaintext: limit})
		if out.n > limit+int64(len(msg)) {
			t.Fatalf("%d bytes written for a limit of %d and a message of %d", out.n, limit, len(msg))
		}
	})
}

// With a passphrase to try, passphrase packets count against MaxTrialDecryptions too: each
// one costs a deliberately slow key derivation.
func TestDecryptPassphraseFlood(t *testing.T) {
	pass := []byte("correct horse")
	for _, tc := range []struct {
		realAt int
		want   error
	}{
		{0, nil},
		{pgpmime.MaxTrialDecryptions - 1, nil},
		{pgpmime.MaxTrialDecryptions, pgpmime.ErrNoKey},
		{100, pgpmime.ErrNoKey},
	} {
		armored, err := pgpmimetest.PassphraseFlood(pass, 100, tc.realAt)
		if err != nil {
			t.Fatal(err)
		}
		msg := pgpmimetest.PGPMIME("a@example.test", "b@example.test", "flood", armored)
		var out bytes.Buffer
		_, err = pgpmime.Decrypt(&out, bytes.NewReader(msg), nil, pgpmime.DecryptOptions{Passphrase: pass})
		if !errors.Is(err, tc.want) || err != nil && tc.want == nil {
			t.Fatalf("real passphrase packet at %d: err = %v, want %v", tc.realAt, err, tc.want)
		}
	}
}
