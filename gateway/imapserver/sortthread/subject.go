package sortthread

import (
	"strings"
	"unicode/utf8"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// BaseSubject returns the base subject of a raw Subject header value (RFC 5256 section
// 2.1) and whether the message is a reply or forward: whether a "Re:", "Fw:" or "Fwd:"
// leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper was removed. The base subject keeps
// its letter case; SORT and THREAD compare it with i;ascii-casemap.
func BaseSubject(raw string) (base string, replyOrForward bool) {
	return baseSubject(normalizeSubject(raw))
}

// subjectKey is the form in which SORT SUBJECT and THREAD compare base subjects, with the
// reply-or-forward bit.
func subjectKey(raw string) (string, bool) {
	base, reply := BaseSubject(raw)
	return casemap(base, MaxSubjectBytes), reply
}

// normalizeSubject is step 1: encoded words decoded, tabs and line breaks made spaces, runs
// of spaces made one, cut to MaxSubjectBytes on a character boundary.
func normalizeSubject(raw string) string {
	if len(raw) > maxRawSubject {
		raw = raw[:maxRawSubject]
	}
	s := mimeutil.DecodeWords(raw)
	var b strings.Builder
	b.Grow(min(len(s), MaxSubjectBytes))
	space := false
	for i := 0; i < len(s) && b.Len() < MaxSubjectBytes; {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			space = true
			i++
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		if b.Len()+n > MaxSubjectBytes {
			break
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	if space && b.Len() < MaxSubjectBytes {
		b.WriteByte(' ')
	}
	return b.String()
}

// baseSubject is steps 2 to 7 on a normalised subject. Every step only shortens s, so the
// loops end and the work is bounded by MaxSubjectBytes.
func baseSubject(s string) (string, bool) {
	reply := false
	for {
		// (2) Trailers: "(fwd)" and whitespace, repeatedly.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if len(s) >= 5 && strings.EqualFold(s[len(s)-5:], "(fwd)") {
				s = s[:len(s)-5]
				reply = true
			} else {
				break
			}
		}
		// (3) to (5): leaders, then one blob if something is left after it, until neither
		// matches.
		for {
			for {
				if strings.HasPrefix(s, " ") {
					s = s[1:]
				} else if n := leaderLen(s); n > 0 {
					s = s[n:]
					reply = true
				} else {
					break
				}
			}
			if n := blobLen(s); n > 0 && n < len(s) {
				s = s[n:]
				continue
			}
			break
		}
		// (6) The "[fwd: ...]" wrapper, then from (2) again.
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			reply = true
			continue
		}
		return s, reply
	}
}

// blobLen is the length of a subj-blob at the start of s: "[" *BLOBCHAR "]" *WSP.
func blobLen(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	n := end + 2
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}

// leaderLen is the length of a subj-leader's "*subj-blob subj-refwd" form at the start of
// s, where subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".
func leaderLen(s string) int {
	i := 0
	for {
		n := blobLen(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	switch {
	case hasPrefixFold(s[i:], "re"):
		i += 2
	case hasPrefixFold(s[i:], "fwd"):
		i += 3
	case hasPrefixFold(s[i:], "fw"):
		i += 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blobLen(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// casemap is the i;ascii-casemap form of s, cut to max bytes: ASCII letters upper-cased,
// every other octet kept, so that comparing the results octet by octet is the comparator.
func casemap(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'a' <= c && c <= 'z' {
					b[j] = c - ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}
