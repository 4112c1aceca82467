package mailstore

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// containsLower reports whether strings.ToLower(s) contains lowerNeedle (a string
// strings.ToLower returned), without building the lower-case copy of s: a search that
// scans message text not yet in the index compares every pending message this way, and the
// copy cost more than the comparison.
//
// A match in the lower-cased text starts at a rune that lower-cases to the needle's first
// rune. For an ASCII first byte other than 'i' and 'k' those runes are that byte and its
// upper case (U+0130 and U+212A are the only runes outside ASCII whose lower case is ASCII:
// 'i' and 'k'), so the candidates are found with IndexByte; any other needle tries every
// rune of s.
func containsLower(s, lowerNeedle string) bool {
	if lowerNeedle == "" {
		return true
	}
	b0 := lowerNeedle[0]
	if b0 >= utf8.RuneSelf || b0 == 'i' || b0 == 'k' {
		for i := 0; i < len(s); {
			if lowerPrefix(s[i:], lowerNeedle) {
				return true
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		return false
	}
	upper := b0
	if 'a' <= b0 && b0 <= 'z' {
		upper = b0 - 'a' + 'A'
	}
	// next[0] and next[1]: the next offset of b0 and of its upper case at or after i, -1
	// when there is none left.
	next := [2]int{-2, -2}
	for i := 0; ; {
		for k, b := range [2]byte{b0, upper} {
			if next[k] != -1 && next[k] < i {
				next[k] = -1
				if x := strings.IndexByte(s[i:], b); x >= 0 {
					next[k] = i + x
				}
			}
		}
		c := next[0]
		if c == -1 || (next[1] != -1 && next[1] < c) {
			c = next[1]
		}
		if c == -1 {
			return false
		}
		if lowerPrefix(s[c:], lowerNeedle) {
			return true
		}
		i = c + 1
	}
}

// lowerPrefix reports whether the lower case of s, rune by rune as strings.ToLower maps it
// (a byte that is not UTF-8 becomes U+FFFD), begins with lowerNeedle.
func lowerPrefix(s, lowerNeedle string) bool {
	j := 0
	for k := 0; k < len(lowerNeedle); {
		if j >= len(s) {
			return false
		}
		c, nb := s[j], lowerNeedle[k]
		if c < utf8.RuneSelf && nb < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != nb {
				return false
			}
			j++
			k++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[j:])
		nr, nw := utf8.DecodeRuneInString(lowerNeedle[k:])
		if unicode.ToLower(r) != nr {
			return false
		}
		j += w
		k += nw
	}
	return true
}
