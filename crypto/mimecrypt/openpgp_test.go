package mimecrypt

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

func armorBlock(packets []byte) []byte {
	return []byte("-----BEGIN PGP MESSAGE-----\n\n" + base64.StdEncoding.EncodeToString(packets) + "\n-----END PGP MESSAGE-----\n")
}

func inlineMessage(block []byte) []byte {
	return append([]byte("From: a@example.test\r\nContent-Type: text/plain\r\n\r\n"), block...)
}

// The first packet tells an encrypted armored message from a signed-only one, also inside a
// compressed packet; what cannot be read counts as encrypted.
func TestArmoredMessageKind(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte{0xc4, 0x0d, 3, 0, 8, 22}) // one-pass signature, new format
	zw.Close()
	for _, c := range []struct {
		name    string
		packets []byte
		want    Kind
	}{
		{"one-pass signature", []byte{0xc4, 0x0d, 3, 0, 8, 22, 1, 2, 3, 4, 5, 6, 7, 8, 1}, PGPInlineSigned},
		{"legacy one-pass signature", []byte{0x90, 0x0d, 3, 0, 8, 22}, PGPInlineSigned},
		{"signature", []byte{0xc2, 0x05, 4, 0, 8, 22, 0}, PGPInlineSigned},
		{"literal", []byte{0xcb, 0x06, 'b', 0, 0, 0, 0, 0}, PGPInlineSigned},
		{"zlib one-pass signature", append([]byte{0xc8, byte(1 + z.Len()), 2}, z.Bytes()...), PGPInlineSigned},
		{"pkesk", []byte{0xc1, 0x0c, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0}, PGPInlineEncrypted},
		{"skesk", []byte{0xc3, 0x04, 4, 9, 0, 0}, PGPInlineEncrypted},
		{"seipd", []byte{0xd2, 0x03, 1, 0, 0}, PGPInlineEncrypted},
		{"garbage", []byte("not packets"), PGPInlineEncrypted},
		{"compressed garbage", []byte{0xc8, 0x04, 2, 1, 2, 3}, PGPInlineEncrypted},
		{"empty", nil, PGPInlineEncrypted},
	} {
		if got := DetectBytes(inlineMessage(armorBlock(c.packets))).Kind; got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// What Sequoia makes: `sq sign` is signed-only, `sq encrypt` is encrypted.
func TestArmoredMessageKindSequoia(t *testing.T) {
	cryptotest.LookPath(t, "sq")
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pgp")
	if _, errOut, err := cryptotest.Run(t, nil, nil, "sq", "key", "generate", "--userid", "<s@example.test>", "--export", key); err != nil {
		t.Fatalf("sq key generate: %v\n%s", err, errOut)
	}
	cert, _, err := cryptotest.Run(t, nil, nil, "sq", "key", "extract-cert", key)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(dir, "c.pgp")
	os.WriteFile(certPath, cert, 0o600)
	text := []byte("hello from sq\n")
	signed, _, err := cryptotest.Run(t, nil, text, "sq", "sign", "--signer-key", key)
	if err != nil {
		t.Fatal(err)
	}
	encrypted, _, err := cryptotest.Run(t, nil, text, "sq", "encrypt", "--recipient-cert", certPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := DetectBytes(inlineMessage(signed)); got.Kind != PGPInlineSigned || got.Kind.Encrypted() {
		t.Errorf("sq sign: %v", got.Kind)
	}
	if got := DetectBytes(inlineMessage(encrypted)); got.Kind != PGPInlineEncrypted {
		t.Errorf("sq encrypt: %v", got.Kind)
	}
}

func FuzzArmoredMessageKind(f *testing.F) {
	f.Add([]byte{0xc4, 0x0d, 3, 0, 8, 22})
	f.Add([]byte{0xc8, 0x04, 2, 0x78, 0x9c, 3})
	f.Add([]byte{0xc1, 0xff, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, packets []byte) {
		k := armoredMessageKind(armorBlock(packets))
		if k != PGPInlineSigned && k != PGPInlineEncrypted {
			t.Fatalf("kind %v", k)
		}
	})
}
