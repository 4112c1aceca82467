// Package pgpmimetest makes hostile OpenPGP messages for tests, fuzz seeds and benchmarks:
// compression bombs (one layer, or compression inside compression) and floods of wildcard
// session key packets, each encrypted to a real key so that a receiver holding its secret
// really decrypts them. It is test-only: nothing outside _test files imports it.
//
// The bombs are written without compressing their plaintext: a deflate block that expands
// to 1 MiB of zeros does not depend on what came before it, so a bomb of any size is that
// block repeated, and making a 2 GiB bomb costs a few megabytes and milliseconds.
package pgpmimetest

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	mathrand "math/rand/v2"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"

	"github.com/sealgate/sealgate/crypto/pgpmime"
)

// Header is the MIME header at the start of every bomb's plaintext: the zeros that follow
// are the body of a text/plain entity, so a receiver gets past the header before it meets
// the bomb.
const Header = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"

// BombOptions describe a compression bomb.
type BombOptions struct {
	// Size is the number of zero bytes after Header in the plaintext (at most 4 GiB - 1 KiB).
	Size int64
	// Nested puts the compressed literal data inside a second compressed packet (zlib inside
	// zlib); otherwise there is one compression layer.
	Nested bool
}

// Bomb returns an armored OpenPGP message encrypted to to, whose plaintext is Header followed
// by opts.Size zero bytes, compressed as opts says.
func Bomb(to *pgpmime.Key, opts BombOptions) ([]byte, error) {
	if opts.Size < 0 || opts.Size > 1<<32-1<<10 {
		return nil, errors.New("pgpmimetest: bomb size out of range")
	}
	var lit bytes.Buffer
	content := int64(len(Header)) + opts.Size
	lit.Write(packetHeader(11, 6+content))
	lit.Write([]byte{'b', 0, 0, 0, 0, 0})
	lit.WriteString(Header)
	inner, err := zlibZeros(lit.Bytes(), opts.Size)
	if err != nil {
		return nil, err
	}
	packets := compressedPacket(inner)
	if opts.Nested {
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zw.Write(packets)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		packets = compressedPacket(z.Bytes())
	}
	return encrypt(to, packets, 0, 0)
}

// KeyFlood returns an armored OpenPGP message with a short text/plain plaintext whose session
// key is encrypted to to once, after n wildcard (anonymous recipient) session key packets that
// are also addressed to to but do not decrypt: a receiver that tries them all
// spends n+1 private-key operations on it. realAt places the real packet among the
// wildcards (0: first, n: last).
func KeyFlood(to *pgpmime.Key, n, realAt int) ([]byte, error) {
	return encrypt(to, floodLiteral(), n, realAt)
}

// floodLiteral is the literal data packet of the floods: a short text/plain message.
func floodLiteral() []byte {
	var lit bytes.Buffer
	text := Header + "Found after the flood.\r\n"
	lit.Write(packetHeader(11, int64(6+len(text))))
	lit.Write([]byte{'b', 0, 0, 0, 0, 0})
	lit.WriteString(text)
	return lit.Bytes()
}

// PassphraseFlood returns an armored OpenPGP message with a short text/plain plaintext whose
// session key is encrypted with passphrase once, after n passphrase packets made with other
// passphrases: a receiver that tries them all derives n+1 keys. realAt places the real
// packet among the others (0: first, n: last).
func PassphraseFlood(passphrase []byte, n, realAt int) ([]byte, error) {
	// Deterministic randomness: whether a wrong passphrase happens to give a plausible session
	// key (about one in fifty does) is then the same in every run.
	det := mathrand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(realAt), byte(realAt >> 8)})
	cfg := &packet.Config{Rand: det, DefaultCipher: packet.CipherAES128, S2KConfig: &s2k.Config{S2KMode: s2k.IteratedSaltedS2K, S2KCount: 1024}}
	key := make([]byte, packet.CipherAES128.KeySize())
	det.Read(key)
	return message(key, floodLiteral(), cfg, func(w io.Writer) error {
		for i := 0; i <= n; i++ {
			pass := passphrase
			if i != realAt {
				pass = []byte(fmt.Sprintf("not the passphrase %d", i))
			}
			if err := packet.SerializeSymmetricKeyEncryptedReuseKey(w, key, pass, cfg); err != nil {
				return err
			}
		}
		return nil
	})
}

// PGPMIME wraps an armored OpenPGP message into a PGP/MIME (RFC 3156) mail message.
func PGPMIME(from, to, subject string, armored []byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n", from, to, subject)
	b.WriteString("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"bomb\"\r\n\r\n")
	b.WriteString("--bomb\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n")
	b.WriteString("--bomb\r\nContent-Type: application/octet-stream\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.TrimRight(string(armored), "\r\n"), "\n", "\r\n"))
	b.WriteString("\r\n--bomb--\r\n")
	return []byte(strings.ReplaceAll(b.String(), "\r\r\n", "\r\n"))
}

// encrypt writes packets (already serialized) into a SEIPDv1 packet whose session key is
// encrypted to to, after flood wildcard packets with random keys (the real one at realAt).
func encrypt(to *pgpmime.Key, packets []byte, flood, realAt int) ([]byte, error) {
	cfg := &packet.Config{DefaultCipher: packet.CipherAES128}
	enc, ok := to.Entity().EncryptionKey(time.Now(), cfg)
	if !ok {
		return nil, errors.New("pgpmimetest: the key cannot encrypt")
	}
	cipher := packet.CipherAES128
	key := make([]byte, cipher.KeySize())
	rand.Read(key)
	return message(key, packets, cfg, func(w io.Writer) error {
		for i := 0; i <= flood; i++ {
			if i == realAt {
				if err := packet.SerializeEncryptedKeyWithHiddenOption(w, enc.PublicKey, cipher, key, flood > 0, cfg); err != nil {
					return err
				}
			}
			if i < flood {
				// A decoy costs the receiver a private-key operation that fails: its encrypted
				// session key is corrupted at the end, so the RSA padding or the AES key wrap of
				// ECDH does not check out.
				var decoy bytes.Buffer
				if err := packet.SerializeEncryptedKeyWithHiddenOption(&decoy, enc.PublicKey, cipher, key, true, cfg); err != nil {
					return err
				}
				d := decoy.Bytes()
				d[len(d)-1] ^= byte(i%255) + 1
				d[len(d)-2] ^= 0x5a
				w.Write(d)
			}
		}
		return nil
	})
}

// message is an armored OpenPGP message: the session key packets writeKeys writes, then
// packets in a SEIPDv1 packet under the AES-128 session key.
func message(key, packets []byte, cfg *packet.Config, writeKeys func(w io.Writer) error) ([]byte, error) {
	var out bytes.Buffer
	aw, err := armor.Encode(&out, "PGP MESSAGE", nil)
	if err != nil {
		return nil, err
	}
	if err := writeKeys(aw); err != nil {
		return nil, err
	}
	w, err := packet.SerializeSymmetricallyEncrypted(aw, packet.CipherAES128, false, packet.CipherSuite{}, key, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(packets); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// zlibZeros returns a zlib stream (RFC 1950) of prefix followed by n zero bytes.
func zlibZeros(prefix []byte, n int64) ([]byte, error) {
	var d bytes.Buffer
	fw, _ := flate.NewWriter(&d, flate.BestCompression)
	fw.Write(prefix)
	fw.Flush() // byte-aligned: the zero blocks follow on their own
	const mib = 1 << 20
	block, err := deflateZeros(mib)
	if err != nil {
		return nil, err
	}
	for left := n; left > 0; left -= mib {
		if left >= mib {
			d.Write(block)
			continue
		}
		tail, err := deflateZeros(int(left))
		if err != nil {
			return nil, err
		}
		d.Write(tail)
	}
	d.Write([]byte{0x03, 0x00}) // an empty final block
	// Adler-32 of prefix and the zeros: each zero adds a to b and nothing to a.
	sum := adler32.Checksum(prefix)
	a, b := int64(sum&0xffff), int64(sum>>16)
	b = (b + (n%65521)*a) % 65521
	var z bytes.Buffer
	z.Write([]byte{0x78, 0xda})
	z.Write(d.Bytes())
	binary.Write(&z, binary.BigEndian, uint32(b<<16|a))
	return z.Bytes(), nil
}

// deflateZeros returns deflate blocks, ending byte-aligned and not final, that expand to n
// zero bytes whatever precedes them (the first zero is a literal, the rest copy it).
func deflateZeros(n int) ([]byte, error) {
	var d bytes.Buffer
	fw, _ := flate.NewWriter(&d, flate.BestCompression)
	if _, err := fw.Write(make([]byte, n)); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	return d.Bytes(), nil
}

// compressedPacket is a Compressed Data packet (tag 8) holding zlib data.
func compressedPacket(zlibData []byte) []byte {
	out := packetHeader(8, int64(1+len(zlibData)))
	out = append(out, byte(packet.CompressionZLIB))
	return append(out, zlibData...)
}

// packetHeader is a new-format packet header with a five-octet length.
func packetHeader(tag byte, n int64) []byte {
	h := []byte{0xc0 | tag, 0xff, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[2:], uint32(n))
	return h
}
