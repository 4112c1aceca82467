package pgpmime

import (
	"bytes"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// Sizes around the framing boundaries: one-octet and two-octet lengths (192, 8384) and the
// partial-length chunk (frameChunk).
var frameSizes = []int{0, 1, 15, 16, 17, 191, 192, 193, 511, 512, 4096,
	frameChunk - 1, frameChunk, frameChunk + 1, 8383, 8384, 8385,
	2*frameChunk - 1, 2 * frameChunk, 2*frameChunk + 1, 100_000}

// TestFramerLengths: go-crypto's packet reader reads a literal data packet framed by framer,
// written in uneven pieces, back to the same bytes, whatever its length.
func TestFramerLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range frameSizes {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		var out bytes.Buffer
		f := newFramer(&out, tagLiteral)
		f.Write([]byte{'b', 0, 0, 0, 0, 0})
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(3000))
			if _, err := f.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		p, err := packet.Read(&out)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		lit, ok := p.(*packet.LiteralData)
		if !ok {
			t.Fatalf("%d bytes: read a %T", n, p)
		}
		got, err := io.ReadAll(lit.Body)
		if err != nil || !bytes.Equal(got, data) || !lit.IsBinary {
			t.Fatalf("%d bytes: read back %d bytes (binary %v), %v", n, len(got), lit.IsBinary, err)
		}
		if out.Len() != 0 {
			t.Fatalf("%d bytes: %d bytes after the packet", n, out.Len())
		}
	}
}

func messageWithBody(n int) string {
	var b strings.Builder
	b.WriteString("From: Test Ed <ed@sealgate.test>\r\nTo: Test RSA <rsa@sealgate.test>\r\nSubject: sizes\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := "0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.String()[:max(n, strings.Index(b.String(), "\r\n\r\n")+4)]
}

// decryptWith decrypts an Encrypt output with keys through go-crypto, checking the
// modification detection code, and returns the plaintext.
func decryptWith(t *testing.T, out []byte, keys KeyRing) ([]byte, error) {
	t.Helper()
	blk, err := armor.Decode(bytes.NewReader(encryptedPart(t, out)))
	if err != nil {
		t.Fatal(err)
	}
	var el openpgp.EntityList
	for _, k := range keys {
		el = append(el, k.entity)
	}
	md, err := openpgp.ReadMessage(blk.Body, el, nil, packetConfig(nil))
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(md.UnverifiedBody) // the MDC is checked at the end
	return plain, err
}

// TestEncryptUnsignedRoundTrip: Sealgate's own SEIPD writer, for every size around the
// framing boundaries, to X25519 and RSA recipients at once; go-crypto decrypts each and
// checks the MDC.
func TestEncryptUnsignedRoundTrip(t *testing.T) {
	recips := loadKeys(t, fixture(t, "rsa3072-pub.asc"), fixture(t, "ed25519-pub.asc"))
	for _, sec := range []string{"rsa3072-secret.asc", "ed25519-secret.asc"} {
		keys := loadKeys(t, fixture(t, sec))
		for _, n := range frameSizes {
			msg := messageWithBody(n)
			var out bytes.Buffer
			if err := Encrypt(&out, strings.NewReader(msg), EncryptOptions{Recipients: recips}); err != nil {
				t.Fatal(err)
			}
			plain, err := decryptWith(t, out.Bytes(), keys)
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", sec, n, err)
			}
			_, body, _ := strings.Cut(msg, "\r\n\r\n")
			if !bytes.HasSuffix(plain, []byte("\r\n\r\n"+body)) {
				t.Fatalf("%s, %d bytes: plaintext ends %q", sec, n, plain[max(0, len(plain)-80):])
			}
		}
	}
}

// TestEncryptUnsignedTampered: a changed byte anywhere in the encrypted data makes decryption
// fail (the MDC, or the packet structure), never return altered plaintext silently.
func TestEncryptUnsignedTampered(t *testing.T) {
	recips := loadKeys(t, fixture(t, "ed25519-pub.asc"))
	keys := loadKeys(t, fixture(t, "ed25519-secret.asc"))
	var out bytes.Buffer
	if err := Encrypt(&out, strings.NewReader(messageWithBody(3*frameChunk)), EncryptOptions{Recipients: recips}); err != nil {
		t.Fatal(err)
	}
	blk, err := armor.Decode(bytes.NewReader(encryptedPart(t, out.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := io.ReadAll(blk.Body)
	var el openpgp.EntityList
	for _, k := range keys {
		el = append(el, k.entity)
	}
	// Offsets from the end: inside the MDC, the last chunk, and a middle chunk.
	for _, back := range []int{1, 10, 30, 5000, 2*frameChunk + 7} {
		bad := bytes.Clone(bin)
		bad[len(bad)-back] ^= 0x40
		md, err := openpgp.ReadMessage(bytes.NewReader(bad), el, nil, packetConfig(nil))
		if err == nil {
			_, err = io.ReadAll(md.UnverifiedBody)
		}
		if err == nil {
			t.Errorf("byte %d from the end changed: decrypted without an error", back)
		}
	}
}

// TestEncryptUnsignedReadByGPG: GnuPG decrypts what the own SEIPD writer makes, reports the
// integrity-protected AES-256 packet, and gets the message back, across chunk boundaries.
func TestEncryptUnsignedReadByGPG(t *testing.T) {
	recips := loadKeys(t, fixture(t, "rsa3072-pub.asc"), fixture(t, "ed25519-pub.asc"))
	for _, sec := range []string{"rsa3072-secret.asc", "ed25519-secret.asc"} {
		g := cryptotest.NewGPG(t)
		g.Import(fixture(t, sec))
		for _, n := range []int{0, frameChunk - 40, frameChunk + 40, 50_000} {
			msg := messageWithBody(n)
			var out bytes.Buffer
			if err := Encrypt(&out, strings.NewReader(msg), EncryptOptions{Recipients: recips}); err != nil {
				t.Fatal(err)
			}
			plain, status, err := g.Run(encryptedPart(t, out.Bytes()), "--status-fd", "2", "--decrypt")
			if err != nil {
				t.Fatalf("gpg --decrypt (%s, %d bytes): %v\n%s", filepath.Base(sec), n, err, status)
			}
			st := string(status)
			if !strings.Contains(st, "[GNUPG:] DECRYPTION_OKAY") || !strings.Contains(st, "[GNUPG:] DECRYPTION_INFO 2 9") {
				t.Errorf("%s, %d bytes: gpg status:\n%s", sec, n, st)
			}
			_, body, _ := strings.Cut(msg, "\r\n\r\n")
			if !bytes.HasSuffix(plain, []byte("\r\n\r\n"+body)) || mimeutil.ParseEntity(plain).MediaType != "text/plain" {
				t.Errorf("%s, %d bytes: gpg's plaintext ends %q", sec, n, plain[max(0, len(plain)-80):])
			}
		}
	}
}

// TestEncryptCipherChoice: a recipient whose key does not list AES-256 gets AES-128 (GnuPG
// reports algorithm 7); recipients who all announce SEIPD version 2 get go-crypto's AEAD
// packet instead of the own writer's.
func TestEncryptCipherChoice(t *testing.T) {
	aes128, err := openpgp.NewEntity("Old", "", "old@sealgate.test", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, DefaultCipher: packet.CipherAES128})
	if err != nil {
		t.Fatal(err)
	}
	cfg := packetConfig(nil)
	if c, ok := seipdCipher([]*openpgp.Entity{aes128}, nil, cfg); !ok || c != packet.CipherAES128 {
		t.Fatalf("AES-128-only key: %v %v", c, ok)
	}
	var out bytes.Buffer
	if err := Encrypt(&out, strings.NewReader(messageWithBody(300)), EncryptOptions{Recipients: KeyRing{NewKey(aes128)}}); err != nil {
		t.Fatal(err)
	}
	var armored bytes.Buffer
	w, _ := armor.Encode(&armored, openpgp.PrivateKeyType, nil)
	if err := aes128.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	g := cryptotest.NewGPG(t)
	g.MustRun(armored.Bytes(), "--import")
	_, status, err := g.Run(encryptedPart(t, out.Bytes()), "--status-fd", "2", "--decrypt")
	if err != nil || !strings.Contains(string(status), "[GNUPG:] DECRYPTION_INFO 2 7") {
		t.Fatalf("gpg: %v\n%s", err, status)
	}

	aead, err := openpgp.NewEntity("New", "", "new@sealgate.test", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, AEADConfig: &packet.AEADConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seipdCipher([]*openpgp.Entity{aead}, nil, cfg); ok {
		t.Fatal("a SEIPDv2 recipient was given the own SEIPDv1 writer")
	}
	if _, ok := seipdCipher([]*openpgp.Entity{aead, aes128}, nil, cfg); !ok {
		t.Fatal("a SEIPDv1-only recipient among others: not SEIPDv1")
	}
	out.Reset()
	if err := Encrypt(&out, strings.NewReader(messageWithBody(300)), EncryptOptions{Recipients: KeyRing{NewKey(aead)}}); err != nil {
		t.Fatal(err)
	}
	plain, err := decryptWith(t, out.Bytes(), KeyRing{NewKey(aead)})
	if err != nil || !bytes.Contains(plain, []byte("0123456789abcdef")) {
		t.Fatalf("AEAD recipient: %v %q", err, plain)
	}
	if v := encryptedVersion(t, out.Bytes()); v != 2 {
		t.Fatalf("AEAD recipient: SEIPD version %d, want 2", v)
	}
	out.Reset()
	if err := Encrypt(&out, strings.NewReader(messageWithBody(300)), EncryptOptions{Recipients: KeyRing{NewKey(aes128)}}); err != nil {
		t.Fatal(err)
	}
	if v := encryptedVersion(t, out.Bytes()); v != 1 {
		t.Fatalf("AES-128 recipient: SEIPD version %d, want 1", v)
	}
}

// encryptedVersion is the version of the encrypted data packet of an Encrypt output.
func encryptedVersion(t *testing.T, out []byte) int {
	t.Helper()
	blk, err := armor.Decode(bytes.NewReader(encryptedPart(t, out)))
	if err != nil {
		t.Fatal(err)
	}
	pr := packet.NewReader(blk.Body)
	for {
		p, err := pr.Next()
		if err != nil {
			t.Fatalf("no encrypted data packet: %v", err)
		}
		if se, ok := p.(*packet.SymmetricallyEncrypted); ok {
			return se.Version
		}
	}
}
