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

// Floods of session key packets: wildcard public-key packets, and, with a passphrase to
// try, passphrase packets (each costs a deliberately slow key derivation). Both count against
// MaxTrialDecryptions: the real packet among the first MaxTrialDecryptions tried opens the
// message, one behind them does not.
func TestDecryptFloods(t *testing.T) {
	type flood struct {
		name  string
		kr    pgpmime.KeyRing
		opts  pgpmime.DecryptOptions
		n     int // packets besides the real one
		build func(realAt int) ([]byte, error)
	}
	var floods []flood
	for _, name := range []string{"ed25519-secret.asc", "rsa3072-secret.asc"} {
		kr := ring(t, name)
		floods = append(floods, flood{name: name, kr: kr, n: 200,
			build: func(realAt int) ([]byte, error) { return pgpmimetest.KeyFlood(kr[0], 200, realAt) }})
	}
	pass := []byte("correct horse")
	floods = append(floods, flood{name: "passphrase", opts: pgpmime.DecryptOptions{Passphrase: pass}, n: 100,
		build: func(realAt int) ([]byte, error) { return pgpmimetest.PassphraseFlood(pass, 100, realAt) }})
	for _, f := range floods {
		for _, tc := range []struct {
			realAt int
			want   error
		}{
			{0, nil},
			{pgpmime.MaxTrialDecryptions - 1, nil},
			{pgpmime.MaxTrialDecryptions, pgpmime.ErrNoKey},
			{f.n, pgpmime.ErrNoKey},
		} {
			armored, err := f.build(tc.realAt)
			if err != nil {
				t.Fatal(err)
			}
			msg := pgpmimetest.PGPMIME("a@example.test", "b@example.test", "flood", armored)
			var out bytes.Buffer
			_, err = pgpmime.Decrypt(&out, bytes.NewReader(msg), f.kr, f.opts)
			if !errors.Is(err, tc.want) || err != nil && tc.want == nil {
				t.Fatalf("%s, real packet at %d: err = %v, want %v", f.name, tc.realAt, err, tc.want)
			}
			if tc.want == nil && !bytes.Contains(out.Bytes(), []byte("Found after the flood.")) {
				t.Fatalf("%s, real packet at %d: not decrypted", f.name, tc.realAt)
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
