package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrBadMUTF7 is a mailbox name that is not valid modified UTF-7 (RFC 3501 §5.1.3).
var ErrBadMUTF7 = errors.New("imapwire: invalid modified UTF-7")

// mutf7Alphabet is base64 with "," in place of "/".
const mutf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// EncodeMUTF7 encodes a UTF-8 mailbox name as modified UTF-7 for clients that did not
// ENABLE UTF8=ACCEPT. Invalid UTF-8 is encoded as U+FFFD.
func EncodeMUTF7(s string) string {
	var sb strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		sb.WriteByte('&')
		units := utf16.Encode(run)
		var bits uint32
		var n uint
		for _, u := range units {
			for _, b := range []byte{byte(u >> 8), byte(u)} {
				bits = bits<<8 | uint32(b)
				n += 8
				for n >= 6 {
					n -= 6
					sb.WriteByte(mutf7Alphabet[(bits>>n)&0x3f])
				}
			}
		}
		if n > 0 {
			sb.WriteByte(mutf7Alphabet[(bits<<(6-n))&0x3f])
		}
		sb.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				sb.WriteString("&-")
			} else {
				sb.WriteRune(r)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return sb.String()
}

// DecodeMUTF7 decodes a modified UTF-7 mailbox name to UTF-8. It is strict, as a client
// must be: only printable US-ASCII outside shifts, no printable US-ASCII encoded inside
// one, no empty or unterminated shift, no stray bits and no unpaired surrogates.
func DecodeMUTF7(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", ErrBadMUTF7
		}
		if c != '&' {
			sb.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", ErrBadMUTF7
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			sb.WriteByte('&')
			continue
		}
		text, err := decodeShift(enc)
		if err != nil {
			return "", err
		}
		sb.WriteString(text)
	}
	return sb.String(), nil
}

func decodeShift(enc string) (string, error) {
	var units []uint16
	var bits uint32
	var n uint
	for i := 0; i < len(enc); i++ {
		v := strings.IndexByte(mutf7Alphabet, enc[i])
		if v < 0 {
			return "", ErrBadMUTF7
		}
		bits = bits<<6 | uint32(v)
		n += 6
		if n >= 16 {
			n -= 16
			units = append(units, uint16(bits>>n))
		}
	}
	// What is left over is padding: fewer than 6 bits, all zero.
	if n >= 6 || bits&(1<<n-1) != 0 || len(units) == 0 {
		return "", ErrBadMUTF7
	}
	var sb strings.Builder
	for i := 0; i < len(units); i++ {
		u := units[i]
		var r rune
		switch {
		case utf16.IsSurrogate(rune(u)):
			if u >= 0xdc00 || i+1 >= len(units) {
				return "", ErrBadMUTF7
			}
			r = utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return "", ErrBadMUTF7
			}
			i++
		default:
			r = rune(u)
		}
		if r >= 0x20 && r <= 0x7e {
			return "", ErrBadMUTF7 // printable US-ASCII represents itself
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}
