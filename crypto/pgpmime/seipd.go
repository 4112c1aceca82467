package pgpmime

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"hash"
	"io"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Sealgate writes the encrypted data of an unsigned message itself: a Symmetrically Encrypted
// Integrity Protected Data packet, version 1 (RFC 4880 §5.13, RFC 9580 §5.13.1), holding one
// binary literal data packet. go-crypto writes the same packets, but through an OpenPGP CFB
// that encrypts byte by byte, a stream writer that allocates for every write, and two
// length-framing buffers that hold the whole message each; on the gateway's inbound path that
// was a fifth of the cost of encrypting a 10 KiB message. The session keys are still made and
// wrapped for each recipient by go-crypto (packet.SerializeEncryptedKeyAEAD), and messages with
// a signature, or to recipients who all announce SEIPD version 2, still go through go-crypto
// whole (see Encrypt).

// Packet tags (RFC 9580 §5).
const (
	tagLiteral = 11
	tagSEIPD   = 18
	tagMDC     = 19
)

// frameChunk is the size of a partial body length chunk (RFC 9580 §4.2.1.4): a power of two
// of at least 512.
const (
	frameChunk    = 1 << frameChunkLog
	frameChunkLog = 13
)

// chunkBufs holds frameChunk-sized buffers for framer and cfbMDC, which are returned when a
// message is finished: three per message would otherwise be most of the garbage encryption
// leaves.
var chunkBufs = sync.Pool{New: func() any { return new([frameChunk]byte) }}

func getChunk() []byte { return chunkBufs.Get().(*[frameChunk]byte)[:0] }

func putChunk(b []byte) {
	if cap(b) == frameChunk {
		chunkBufs.Put((*[frameChunk]byte)(b[:frameChunk]))
	}
}

// seipdCipher chooses the cipher for recipients the way go-crypto does for SEIPD version 1:
// AES-256 if every recipient's preferences list it, else AES-128, which every implementation
// must support. A recipient encrypted to with a post-quantum key (RFC 9980) supports AES-256
// whether it lists it or not (RFC 9980 asks for AES-256 with such keys). It reports false if
// every recipient announces SEIPD version 2, which go-crypto would use instead. keys are the
// recipients' chosen encryption (sub)keys, in the order of to.
func seipdCipher(to []*openpgp.Entity, keys []*packet.PublicKey, cfg *packet.Config) (packet.CipherFunction, bool) {
	aes256, v2 := true, true
	for i, e := range to {
		sig, err := e.PrimarySelfSignature(cfg.Now(), cfg)
		if err != nil || sig == nil {
			return 0, false
		}
		v2 = v2 && sig.SEIPDv2
		listed := i < len(keys) && keys[i].IsPQ()
		for _, c := range sig.PreferredSymmetric {
			listed = listed || packet.CipherFunction(c) == packet.CipherAES256
		}
		aes256 = aes256 && listed
	}
	if v2 {
		return 0, false
	}
	if aes256 {
		return packet.CipherAES256, true
	}
	return packet.CipherAES128, true
}

// encryptData writes one PKESK per recipient key and then the SEIPD packet to out; the
// returned writer takes the literal data and must be closed.
func encryptData(out io.Writer, keys []*packet.PublicKey, c packet.CipherFunction, cfg *packet.Config) (io.WriteCloser, error) {
	sessionKey := make([]byte, c.KeySize())
	if _, err := rand.Read(sessionKey); err != nil {
		return nil, err
	}
	defer clear(sessionKey)
	for _, k := range keys {
		if err := packet.SerializeEncryptedKeyAEAD(out, k, c, false, sessionKey, cfg); err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(sessionKey)
	if err != nil {
		return nil, err
	}
	seipd := newFramer(out, tagSEIPD)
	if _, err := seipd.Write([]byte{1}); err != nil { // version 1
		return nil, err
	}
	e := &cfbMDC{block: block, mdc: sha1.New(), out: seipd, buf: getChunk()}
	// The prefix: a block of random bytes, then its last two again (RFC 9580 §5.13.1).
	prefix := make([]byte, block.BlockSize()+2)
	if _, err := rand.Read(prefix[:block.BlockSize()]); err != nil {
		return nil, err
	}
	copy(prefix[block.BlockSize():], prefix[block.BlockSize()-2:block.BlockSize()])
	if _, err := e.Write(prefix); err != nil {
		return nil, err
	}
	lit := newFramer(e, tagLiteral)
	// Binary, no file name, no date: what go-crypto writes for FileHints{}.
	if _, err := lit.Write([]byte{'b', 0, 0, 0, 0, 0}); err != nil {
		return nil, err
	}
	return &literalWriter{lit: lit, enc: e, seipd: seipd}, nil
}

// literalWriter is the plaintext end of encryptData.
type literalWriter struct {
	lit   *framer
	enc   *cfbMDC
	seipd *framer
}

func (w *literalWriter) Write(p []byte) (int, error) { return w.lit.Write(p) }

// Close ends the literal data packet, appends the modification detection code and ends the
// encrypted packet.
func (w *literalWriter) Close() error {
	if err := w.lit.Close(); err != nil {
		return err
	}
	if err := w.enc.finish(); err != nil {
		return err
	}
	return w.seipd.Close()
}

// cfbMDC encrypts in OpenPGP's CFB mode as SEIPD uses it: a zero IV and no resynchronisation,
// which is plain CFB (NIST SP 800-38A) over the prefix and everything after it. It hashes the
// plaintext for the modification detection code as it goes.
type cfbMDC struct {
	block cipher.Block
	mdc   hash.Hash
	out   io.Writer
	// fb is the feedback register: the last ciphertext block (zero at first). ks is the key
	// stream E(fb) of the block being filled, of which used bytes are spent.
	fb, ks [16]byte
	used   int
	buf    []byte
}

func (e *cfbMDC) Write(p []byte) (int, error) {
	e.mdc.Write(p)
	return len(p), e.encrypt(p)
}

func (e *cfbMDC) encrypt(p []byte) error {
	for len(p) > cap(e.buf) {
		if err := e.encrypt(p[:cap(e.buf)]); err != nil {
			return err
		}
		p = p[cap(e.buf):]
	}
	out := e.buf[:len(p)]
	dst := out
	for len(p) > 0 {
		if e.used == 0 && len(p) >= 16 {
			// A whole block: ciphertext = plaintext ⊕ E(previous ciphertext block).
			e.block.Encrypt(e.ks[:], e.fb[:])
			subtle.XORBytes(dst[:16], p[:16], e.ks[:])
			copy(e.fb[:], dst[:16])
			dst, p = dst[16:], p[16:]
			continue
		}
		if e.used == 0 {
			e.block.Encrypt(e.ks[:], e.fb[:])
		}
		k := subtle.XORBytes(dst, p, e.ks[e.used:])
		copy(e.fb[e.used:], dst[:k])
		e.used = (e.used + k) % 16
		dst, p = dst[k:], p[k:]
	}
	_, err := e.out.Write(out)
	return err
}

// finish encrypts the modification detection code packet (its header is hashed too) and
// gives the buffer back.
func (e *cfbMDC) finish() error {
	hdr := []byte{0xc0 | tagMDC, sha1.Size}
	e.mdc.Write(hdr)
	err := e.encrypt(e.mdc.Sum(hdr))
	putChunk(e.buf)
	e.buf = nil
	return err
}

// framer writes one packet of unknown length in the new format: the tag, then partial body
// lengths of frameChunk bytes, then a final definite length (RFC 9580 §4.2.1).
type framer struct {
	w       io.Writer
	buf     []byte
	started bool
	tag     byte
}

func newFramer(w io.Writer, tag byte) *framer {
	return &framer{w: w, buf: getChunk(), tag: tag}
}

func (f *framer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(f.buf) == frameChunk {
			if err := f.emit([]byte{0xe0 | frameChunkLog}); err != nil {
				return n - len(p), err
			}
		}
		k := min(len(p), frameChunk-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// emit writes what is buffered after its length header.
func (f *framer) emit(length []byte) error {
	var hdr []byte
	if !f.started {
		hdr = append(hdr, 0xc0|f.tag)
		f.started = true
	}
	hdr = append(hdr, length...)
	if _, err := f.w.Write(hdr); err != nil {
		return err
	}
	_, err := f.w.Write(f.buf)
	f.buf = f.buf[:0]
	return err
}

// Close writes the rest with a definite length.
func (f *framer) Close() error {
	if f.w == nil {
		return errors.New("pgpmime: packet closed twice")
	}
	n := len(f.buf)
	var l []byte
	switch {
	case n < 192:
		l = []byte{byte(n)}
	case n < 8384:
		l = []byte{byte((n-192)>>8) + 192, byte(n - 192)}
	default:
		l = []byte{0xff, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	err := f.emit(l)
	f.w = nil
	putChunk(f.buf)
	f.buf = nil
	return err
}
