package smime

import (
	"bytes"
	"errors"
)

// errBER reports undecodable BER.
var errBER = errors.New("smime: malformed BER/DER")

const maxBERDepth = 64

// berToDER rewrites BER as DER where encoding/asn1 needs it: indefinite
// lengths become definite, and constructed OCTET STRINGs (tag 0x24) are
// joined into primitive ones. Other constructed context-specific values
// are kept constructed (see joinOctets for implicit [0] contents).
func berToDER(b []byte) ([]byte, error) {
	var out bytes.Buffer
	rest, err := berValue(&out, b, 0)
	if err != nil {
		return nil, err
	}
	_ = rest // trailing data (padding, a second object) is ignored
	return out.Bytes(), nil
}

// berHeader parses a tag and length. length -1 means indefinite.
func berHeader(b []byte) (tag []byte, constructed bool, length int, hdr int, err error) {
	if len(b) < 2 {
		return nil, false, 0, 0, errBER
	}
	i := 1
	if b[0]&0x1f == 0x1f {
		for i < len(b) && b[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if i >= len(b) {
		return nil, false, 0, 0, errBER
	}
	tag = b[:i]
	constructed = b[0]&0x20 != 0
	l := int(b[i])
	i++
	switch {
	case l < 0x80:
		length = l
	case l == 0x80:
		if !constructed {
			return nil, false, 0, 0, errBER
		}
		length = -1
	default:
		n := l & 0x7f
		if n > 4 || i+n > len(b) {
			return nil, false, 0, 0, errBER
		}
		length = 0
		for k := 0; k < n; k++ {
			length = length<<8 | int(b[i+k])
		}
		i += n
		if length < 0 {
			return nil, false, 0, 0, errBER
		}
	}
	if length > len(b)-i {
		return nil, false, 0, 0, errBER
	}
	return tag, constructed, length, i, nil
}

func berValue(out *bytes.Buffer, b []byte, depth int) ([]byte, error) {
	if depth > maxBERDepth {
		return nil, errBER
	}
	tag, constructed, length, hdr, err := berHeader(b)
	if err != nil {
		return nil, err
	}
	if !constructed {
		writeTLV(out, tag, b[hdr:hdr+length])
		return b[hdr+length:], nil
	}
	var inner bytes.Buffer
	var rest []byte
	if length >= 0 {
		content := b[hdr : hdr+length]
		for len(content) > 0 {
			if content, err = berValue(&inner, content, depth+1); err != nil {
				return nil, err
			}
		}
		rest = b[hdr+length:]
	} else {
		content := b[hdr:]
		for {
			if len(content) < 2 {
				return nil, errBER
			}
			if content[0] == 0 && content[1] == 0 {
				rest = content[2:]
				break
			}
			if content, err = berValue(&inner, content, depth+1); err != nil {
				return nil, err
			}
		}
	}
	if len(tag) == 1 && tag[0] == 0x24 {
		// constructed OCTET STRING: join the segments
		joined, err := joinOctets(inner.Bytes())
		if err != nil {
			return nil, err
		}
		writeTLV(out, []byte{0x04}, joined)
		return rest, nil
	}
	writeTLV(out, tag, inner.Bytes())
	return rest, nil
}

// joinOctets concatenates the contents of a sequence of DER OCTET STRINGs.
func joinOctets(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		_, _, length, hdr, err := berHeader(b)
		if err != nil {
			return nil, err
		}
		out = append(out, b[hdr:hdr+length]...)
		b = b[hdr+length:]
	}
	return out, nil
}

func writeTLV(out *bytes.Buffer, tag, content []byte) {
	out.Write(tag)
	n := len(content)
	switch {
	case n < 0x80:
		out.WriteByte(byte(n))
	case n < 0x100:
		out.Write([]byte{0x81, byte(n)})
	case n < 0x10000:
		out.Write([]byte{0x82, byte(n >> 8), byte(n)})
	case n < 0x1000000:
		out.Write([]byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)})
	default:
		out.Write([]byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	out.Write(content)
}
