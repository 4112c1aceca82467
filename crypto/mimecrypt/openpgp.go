package mimecrypt

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/zlib"
	"encoding/base64"
	"io"
	"strings"
)

// An armored "PGP MESSAGE" is encrypted or only signed; which one is told by
// its first packet (RFC 9580 §5): session keys or encrypted data mean
// encrypted; a (one-pass) signature or literal data means signed only. A
// compressed packet (what `gpg --sign` makes) is looked into for its first
// packet. The look is bounded: at most maxArmorPeek bytes of armor are
// decoded, at most maxInflatePeek bytes inflated, at most
// maxCompressionDepth layers entered; anything not recognised within that
// counts as encrypted, so that it is never treated as readable.
const (
	maxArmorPeek        = 8 << 10
	maxInflatePeek      = 64
	maxCompressionDepth = 2
)

// armoredMessageKind classifies the armored block that starts at the
// BEGIN PGP MESSAGE line in text.
func armoredMessageKind(text []byte) Kind {
	i := bytes.Index(text, []byte("-----BEGIN PGP MESSAGE-----"))
	if i < 0 {
		return PGPInlineEncrypted
	}
	block := text[i:]
	if len(block) > maxArmorPeek {
		block = block[:maxArmorPeek]
	}
	sc := bufio.NewScanner(bytes.NewReader(block))
	sc.Buffer(make([]byte, 0, 1024), maxArmorPeek)
	var b64 strings.Builder
	state := 0 // 0 BEGIN line, 1 armor headers, 2 data
	for sc.Scan() {
		l := strings.TrimFunc(sc.Text(), func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\u00a0' })
		switch {
		case state == 0:
			state = 1
		case state == 1 && l == "":
			state = 2
		case state == 1 && strings.Contains(l, ": "):
		case strings.HasPrefix(l, "-----END") || strings.HasPrefix(l, "=") && len(l) == 5:
			return firstPacketKind(decodeLoose(b64.String()), 0)
		default:
			state = 2
			b64.WriteString(l)
		}
	}
	return firstPacketKind(decodeLoose(b64.String()), 0)
}

// decodeLoose decodes as much base64 as is complete (the block may be cut
// at maxArmorPeek).
func decodeLoose(s string) []byte {
	s = s[:len(s)/4*4]
	out, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return out
}

// firstPacketKind classifies OpenPGP packet data by its first packet.
func firstPacketKind(b []byte, depth int) Kind {
	tag, body, ok := packetHeader(b)
	if !ok {
		return PGPInlineEncrypted
	}
	switch tag {
	case 2, 4, 11: // signature, one-pass signature, literal data
		return PGPInlineSigned
	case 8: // compressed data: algorithm octet, then the compressed packets
		if depth >= maxCompressionDepth || len(body) < 1 {
			return PGPInlineEncrypted
		}
		var r io.Reader
		switch body[0] {
		case 0:
			r = bytes.NewReader(body[1:])
		case 1:
			r = flate.NewReader(bytes.NewReader(body[1:]))
		case 2:
			zr, err := zlib.NewReader(bytes.NewReader(body[1:]))
			if err != nil {
				return PGPInlineEncrypted
			}
			r = zr
		case 3:
			r = bzip2.NewReader(bytes.NewReader(body[1:]))
		default:
			return PGPInlineEncrypted
		}
		inner := make([]byte, maxInflatePeek)
		n, _ := io.ReadFull(r, inner)
		return firstPacketKind(inner[:n], depth+1)
	}
	return PGPInlineEncrypted
}

// packetHeader returns the tag of the packet at the start of b and the
// part of its body that b holds (RFC 9580 §4.2, both header formats).
func packetHeader(b []byte) (tag int, body []byte, ok bool) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return 0, nil, false
	}
	if b[0]&0x40 == 0 { // legacy format
		tag = int(b[0]>>2) & 0x0f
		n := [4]int{1, 2, 4, 0}[b[0]&3]
		if len(b) < 1+n {
			return 0, nil, false
		}
		return tag, b[1+n:], true
	}
	tag = int(b[0] & 0x3f)
	switch l := b[1]; {
	case l < 192, l >= 224 && l < 255:
		return tag, b[2:], true
	case l < 224:
		if len(b) < 3 {
			return 0, nil, false
		}
		return tag, b[3:], true
	default:
		if len(b) < 6 {
			return 0, nil, false
		}
		return tag, b[6:], true
	}
}
