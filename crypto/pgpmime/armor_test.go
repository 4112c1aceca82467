package pgpmime

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// The armor writer produces exactly what go-crypto's encoder does (with CRLF line ends), for
// every length around the line and base64 group boundaries and any split into writes, and
// go-crypto's decoder, which checks the CRC-24, reads it back.
func TestArmorWriterMatchesGoCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 3, 47, 48, 49, 95, 96, 97, 1000, 10240, 65536 + 7} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		var want bytes.Buffer
		w, err := armor.Encode(&mimeutil.CRLFWriter{W: &want}, "PGP MESSAGE", nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()

		var got bytes.Buffer
		a, err := newArmorWriter(&got, "PGP MESSAGE")
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+int(rng.UintN(100)))
			if _, err := a.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("size %d: armor differs\n got %q\nwant %q", size, got.Bytes(), want.Bytes())
		}
		blk, err := armor.Decode(&got)
		if err != nil {
			t.Fatalf("size %d: decode: %v", size, err)
		}
		back, err := io.ReadAll(blk.Body)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("size %d: read back %d bytes, err %v", size, len(back), err)
		}
	}
}

func BenchmarkArmorWriter(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 640)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		a, _ := newArmorWriter(io.Discard, "PGP MESSAGE")
		a.Write(data)
		a.Close()
	}
}

func BenchmarkArmorGoCrypto(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 640)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		a, _ := armor.Encode(&mimeutil.CRLFWriter{W: io.Discard}, "PGP MESSAGE", nil)
		a.Write(data)
		a.Close()
	}
}
