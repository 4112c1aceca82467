package mimeutil

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Message identifiers (RFC 5322 §3.6.4), read strictly: a list stops at its first malformed
// identifier. (Threading reads them with Dovecot's looser rules, in sortthread.)

// ErrBadMsgID reports a msg-id (RFC 5322 §3.6.4) that does not parse.
var ErrBadMsgID = errors.New("mimeutil: malformed msg-id")

// MsgIDList parses a list of msg-ids (In-Reply-To, References), each returned without its
// angle brackets: the ones before the first malformed one, and ErrBadMsgID if there is one.
// An empty value is an empty list.
func MsgIDList(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	p := msgIDParser{v}
	var l []string
	for p.s != "" {
		id, err := p.msgID()
		if err != nil {
			return l, err
		}
		l = append(l, id)
	}
	return l, nil
}

// MsgID parses the one msg-id of a Message-ID value, without its angle brackets; "" for an
// empty value.
func MsgID(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	p := msgIDParser{v}
	return p.msgID()
}

// msgIDParser reads msg-ids: [CFWS] "<" dot-atom-text "@" (dot-atom-text / no-fold-literal)
// ">" [CFWS], with UTF-8 (RFC 6532) in the atoms.
type msgIDParser struct{ s string }

func (p *msgIDParser) msgID() (string, error) {
	if !p.skipCFWS() || !p.consume('<') {
		return "", ErrBadMsgID
	}
	left, ok := p.run(isMsgIDAtext)
	if !ok || left == "" || !p.consume('@') {
		return "", ErrBadMsgID
	}
	var right string
	if p.consume('[') {
		lit, ok := p.run(isDtext)
		if !ok || !p.consume(']') {
			return "", ErrBadMsgID
		}
		right = "[" + lit + "]"
	} else if right, ok = p.run(isMsgIDAtext); !ok || right == "" {
		return "", ErrBadMsgID
	}
	if !p.consume('>') || !p.skipCFWS() {
		return "", ErrBadMsgID
	}
	return left + "@" + right, nil
}

func (p *msgIDParser) consume(c byte) bool {
	if p.s == "" || p.s[0] != c {
		return false
	}
	p.s = p.s[1:]
	return true
}

// run takes the longest prefix of runes that ok accepts; false when malformed UTF-8 comes
// before its end.
func (p *msgIDParser) run(ok func(rune) bool) (string, bool) {
	i := 0
	for i < len(p.s) {
		r, size := utf8.DecodeRuneInString(p.s[i:])
		if r == utf8.RuneError && size == 1 {
			return "", false
		}
		if !ok(r) {
			break
		}
		i += size
	}
	out := p.s[:i]
	p.s = p.s[i:]
	return out, true
}

// skipCFWS skips white space and comments; false for a comment that is not closed.
func (p *msgIDParser) skipCFWS() bool {
	p.s = strings.TrimLeft(p.s, " \t")
	for p.consume('(') {
		depth := 1
		for p.s != "" && depth > 0 {
			switch p.s[0] {
			case '\\':
				if len(p.s) > 1 {
					p.s = p.s[1:]
				}
			case '(':
				depth++
			case ')':
				depth--
			}
			p.s = p.s[1:]
		}
		if depth > 0 {
			return false
		}
		p.s = strings.TrimLeft(p.s, " \t")
	}
	return true
}

// isMsgIDAtext is atext or '.' (RFC 5322 §3.2.3), UTF-8 included.
func isMsgIDAtext(r rune) bool {
	switch r {
	case '(', ')', '[', ']', ';', '@', '\\', ',', '<', '>', '"', ':':
		return false
	}
	return isVchar(r)
}

func isDtext(r rune) bool { return r != '[' && r != ']' && r != '\\' && isVchar(r) }

// isVchar is a visible character (RFC 5322 VCHAR) or a multi-byte one (RFC 6532).
func isVchar(r rune) bool { return '!' <= r && r <= '~' || r >= utf8.RuneSelf }
