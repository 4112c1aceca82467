package pgpmime

import (
	"encoding/base64"
	"io"
)

// armorWriter writes OpenPGP ASCII armor (RFC 9580 §6) with CRLF line ends, in the layout
// go-crypto's armor.Encode produces: 64 characters a line, then the CRC-24 line and the end
// line (with no line break after it). It exists because the CRC-24 of go-crypto's encoder is
// computed a bit at a time, which made it the single largest cost of encrypting mail at rest;
// this one uses a table. The checksum is kept: GnuPG 2.2 does not read armor without it.
type armorWriter struct {
	out       io.Writer
	blockType string
	crc       uint32
	pend      [armorLineBytes]byte // input not yet encoded (less than one line)
	npend     int
	lines     int    // lines written so far
	buf       []byte // encoded output not yet written, in store
	store     [64 * armorLineLen]byte
	err       error
}

const (
	armorLineBytes = 48 // input bytes per 64-character line
	armorLineLen   = 66 // a line with its CRLF
	crc24Init      = 0xb704ce
	crc24Poly      = 0x1864cfb
)

// crc24Tables are the tables of a slicing-by-4 CRC-24 (MSB first) over a 32-bit register
// that holds the CRC in its top 24 bits: crc24Tables[k][i] is the register after byte i
// followed by k zero bytes.
var crc24Tables = func() (t [4][256]uint32) {
	for i := range t[0] {
		c := uint32(i) << 16
		for range 8 {
			c <<= 1
			if c&0x1000000 != 0 {
				c ^= crc24Poly
			}
		}
		t[0][i] = c << 8
	}
	for k := 1; k < 4; k++ {
		for i := range t[k] {
			p := t[k-1][i]
			t[k][i] = p<<8 ^ t[0][p>>24]
		}
	}
	return t
}()

func crc24(crc uint32, p []byte) uint32 {
	r := crc << 8
	t := &crc24Tables
	for len(p) >= 4 {
		r ^= uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
		r = t[3][r>>24] ^ t[2][r>>16&0xff] ^ t[1][r>>8&0xff] ^ t[0][r&0xff]
		p = p[4:]
	}
	for _, b := range p {
		r = r<<8 ^ t[0][r>>24^uint32(b)]
	}
	return r >> 8
}

// newArmorWriter writes the armor header line for blockType ("PGP MESSAGE") and returns the
// writer of the armored data. Close writes the checksum and the end line.
func newArmorWriter(out io.Writer, blockType string) (*armorWriter, error) {
	if _, err := io.WriteString(out, "-----BEGIN "+blockType+"-----\r\n\r\n"); err != nil {
		return nil, err
	}
	a := &armorWriter{out: out, blockType: blockType, crc: crc24Init}
	a.buf = a.store[:0]
	return a, nil
}

// flush writes the encoded output buffered so far.
func (a *armorWriter) flush() {
	if len(a.buf) > 0 && a.err == nil {
		_, a.err = a.out.Write(a.buf)
	}
	a.buf = a.buf[:0]
}

func (a *armorWriter) line(in []byte) {
	if len(a.buf)+armorLineLen > cap(a.buf) {
		a.flush()
	}
	if a.lines > 0 {
		a.buf = append(a.buf, '\r', '\n')
	}
	a.buf = base64.StdEncoding.AppendEncode(a.buf, in)
	a.lines++
}

func (a *armorWriter) Write(p []byte) (int, error) {
	n := len(p)
	a.crc = crc24(a.crc, p)
	if a.npend > 0 {
		c := copy(a.pend[a.npend:], p)
		a.npend += c
		p = p[c:]
		if a.npend < armorLineBytes {
			return n, nil
		}
		a.line(a.pend[:])
		a.npend = 0
	}
	for len(p) >= armorLineBytes {
		a.line(p[:armorLineBytes])
		p = p[armorLineBytes:]
	}
	a.npend = copy(a.pend[:], p)
	a.flush()
	if a.err != nil {
		return 0, a.err
	}
	return n, nil
}

// Close ends the armor. It does not close the underlying writer.
func (a *armorWriter) Close() error {
	if a.npend > 0 {
		a.line(a.pend[:a.npend])
		a.npend = 0
	}
	a.flush()
	if a.err != nil {
		return a.err
	}
	sum := [3]byte{byte(a.crc >> 16), byte(a.crc >> 8), byte(a.crc)}
	a.buf = append(a.buf, "\r\n="...)
	a.buf = base64.StdEncoding.AppendEncode(a.buf, sum[:])
	a.buf = append(a.buf, "\r\n-----END "...)
	a.buf = append(a.buf, a.blockType...)
	a.buf = append(a.buf, "-----"...)
	a.flush()
	return a.err
}
