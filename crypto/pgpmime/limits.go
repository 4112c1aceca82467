package pgpmime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Bounds on what one encrypted message may cost to decrypt. A message is small on the wire
// but its plaintext need not be: compression (nested up to go-crypto's 32 packet layers)
// inflates a few kilobytes into gigabytes, and every public-key encrypted session key packet
// addressed to one of our keys, or to nobody (the wildcard key id of RFC 9580 §5.1), costs a
// private-key operation.
const (
	// DefaultMaxPlaintext is the plaintext bound when DecryptOptions.MaxPlaintext is zero.
	DefaultMaxPlaintext = MaxBufferedSize
	// MaxTrialDecryptions bounds the private-key operations one message may cause: session
	// key packets beyond it that would be tried against a secret key are dropped unread, so
	// a message whose key is not among the first ones tried is one we cannot decrypt.
	MaxTrialDecryptions = 16
	// layerSlack is what one compression layer may output beyond the plaintext: literal
	// data framing, one-pass signatures and signatures (an SLH-DSA one is about 50 KB).
	// go-crypto bounds each layer on its own (MaxDecompressedMessageSize), so nested layers
	// may together inflate up to 32 times the bound (CPU; memory stays constant).
	layerSlack = 128 << 10
	// maxKeyPacket bounds one session key packet (an RSA-16384 or ML-KEM-1024+X448 one is a
	// few kilobytes).
	maxKeyPacket = 64 << 10
)

// plaintextBudget is what is left of a message's plaintext bound, shared by every block of
// an inline message and every compression layer of each block.
type plaintextBudget struct {
	left int64
}

func newBudget(opts DecryptOptions) *plaintextBudget {
	n := opts.MaxPlaintext
	if n <= 0 {
		n = DefaultMaxPlaintext
	}
	return &plaintextBudget{left: n}
}

// limit returns a reader of r that spends the budget and fails with ErrTooLarge once the
// plaintext exceeds it (ErrPlaintextTooLarge). It never asks r for more than one byte beyond the bound, so a
// decompressor behind r does no more work than the bound allows.
func (b *plaintextBudget) limit(r io.Reader) io.Reader {
	return &budgetReader{r: r, b: b}
}

type budgetReader struct {
	r io.Reader
	b *plaintextBudget
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if r.b.left < 0 {
		return 0, ErrPlaintextTooLarge
	}
	if int64(len(p)) > r.b.left+1 {
		p = p[:r.b.left+1]
	}
	n, err := r.r.Read(p)
	r.b.left -= int64(n)
	if r.b.left < 0 {
		return n, ErrPlaintextTooLarge
	}
	return n, err
}

// limitKeyPackets reads the session key packets (PKESK, SKESK) that start an OpenPGP message
// and returns the message with those that would exceed MaxTrialDecryptions left out. A packet
// addressed to one of our secret (sub)keys costs one try per such key; a wildcard packet
// costs one per decryption key we hold; a passphrase packet costs one when there is a
// passphrase to try (its key derivation is deliberately slow); the others cost nothing and
// are kept.
func limitKeyPackets(r io.Reader, ring KeyRing, passphrase bool, cfg *packet.Config) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 4096)
	var kept bytes.Buffer
	tries := 0
	for {
		tag, raw, err := nextKeyPacket(br)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			return io.MultiReader(&kept, br), nil
		}
		cost := 0
		switch {
		case tag == 1:
			cost = keyPacketCost(raw, ring, cfg)
		case tag == 3 && passphrase:
			cost = 1
		}
		if tries+cost > MaxTrialDecryptions {
			continue
		}
		tries += cost
		kept.Write(raw)
	}
}

// nextKeyPacket returns the whole of the next packet when it is a session key packet (tag 1
// or 3), or a nil raw (the reader left at the packet) for any other packet or the end.
func nextKeyPacket(br *bufio.Reader) (tag byte, raw []byte, err error) {
	b, err := br.Peek(1)
	if err != nil || b[0]&0x80 == 0 {
		return 0, nil, nil // go-crypto reports what is wrong with it
	}
	var hdr []byte
	var n int64
	if b[0]&0x40 != 0 { // new format
		tag = b[0] & 0x3f
		if tag != 1 && tag != 3 {
			return tag, nil, nil
		}
		h, err := br.Peek(2)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: truncated packet header", ErrMalformed)
		}
		switch l := h[1]; {
		case l < 192:
			hdr, n = h, int64(l)
		case l < 224:
			if h, err = br.Peek(3); err != nil {
				return 0, nil, fmt.Errorf("%w: truncated packet header", ErrMalformed)
			}
			hdr, n = h, int64(l-192)<<8+int64(h[2])+192
		case l == 255:
			if h, err = br.Peek(6); err != nil {
				return 0, nil, fmt.Errorf("%w: truncated packet header", ErrMalformed)
			}
			hdr, n = h, int64(binary.BigEndian.Uint32(h[2:6]))
		default:
			return 0, nil, fmt.Errorf("%w: session key packet with a partial length", ErrMalformed)
		}
	} else { // old format
		tag = (b[0] & 0x3f) >> 2
		if tag != 1 && tag != 3 {
			return tag, nil, nil
		}
		size := [...]int{1, 2, 4, 0}[b[0]&3]
		if size == 0 {
			return 0, nil, fmt.Errorf("%w: session key packet of indeterminate length", ErrMalformed)
		}
		h, err := br.Peek(1 + size)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: truncated packet header", ErrMalformed)
		}
		hdr = h
		for _, c := range h[1:] {
			n = n<<8 | int64(c)
		}
	}
	if n > maxKeyPacket {
		return 0, nil, fmt.Errorf("%w: session key packet of %d bytes", ErrMalformed, n)
	}
	raw = make([]byte, int64(len(hdr))+n)
	if _, err := io.ReadFull(br, raw); err != nil {
		return 0, nil, fmt.Errorf("%w: truncated session key packet", ErrMalformed)
	}
	return tag, raw, nil
}

// keyPacketCost is how many private-key operations go-crypto would spend on a PKESK packet:
// one per secret decryption key of ours that it names, or that a wildcard packet reaches.
func keyPacketCost(raw []byte, ring KeyRing, cfg *packet.Config) int {
	p, err := packet.Read(bytes.NewReader(raw))
	ek, ok := p.(*packet.EncryptedKey)
	if err != nil || !ok {
		return 0 // go-crypto will not try it either
	}
	cost := 0
	for _, e := range ring.entities().EntitiesById(ek.KeyId) {
		for _, k := range e.DecryptionKeys(ek.KeyId, time.Time{}, cfg) {
			if k.PrivateKey != nil {
				cost++
			}
		}
	}
	return cost
}
