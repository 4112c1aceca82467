package mimeutil

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// What a mail reader shows of a message: header values with their encoded words decoded
// (RFC 2047), address lists, message identifiers, the disposition of a part, and a text
// part's body in UTF-8 whatever its transfer encoding and charset.

// ErrUnknownCharset reports text in a charset this package cannot convert to UTF-8; the text
// is then given as it is.
var ErrUnknownCharset = errors.New("mimeutil: unknown charset")

// CharsetReader returns a reader of r's text converted from charset to UTF-8. An empty
// charset, UTF-8 and US-ASCII give r itself; a charset known neither by its IANA (MIME) name
// nor by the WHATWG label list gives ErrUnknownCharset.
func CharsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc, err := lookupCharset(charset)
	if err != nil {
		return nil, err
	}
	if enc == nil {
		return r, nil
	}
	return enc.NewDecoder().Reader(r), nil
}

// lookupCharset finds charset's decoder; nil for the charsets that are already UTF-8.
func lookupCharset(charset string) (encoding.Encoding, error) {
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return nil, nil
	}
	for _, find := range []func() (encoding.Encoding, error){
		func() (encoding.Encoding, error) { return ianaindex.MIME.Encoding(cs) },
		func() (encoding.Encoding, error) { return ianaindex.MIME.Encoding("cs" + cs) },
		func() (encoding.Encoding, error) { return htmlindex.Get(cs) },
	} {
		// ianaindex knows some names it has no decoder for: those give a nil encoding.
		if enc, err := find(); err == nil && enc != nil {
			return enc, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownCharset, charset)
}

// wordDecoder decodes RFC 2047 encoded words in every charset CharsetReader knows.
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: CharsetReader}
}

// DecodeWords decodes the RFC 2047 encoded words of a header value; a value with a word
// that does not decode is returned as it is.
func DecodeWords(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	out, err := wordDecoder().DecodeHeader(v)
	if err != nil {
		return v
	}
	return out
}

// ParseAddressList parses an address list (RFC 5322 §3.4: From, To, Cc, Reply-To), the
// display names' encoded words decoded. An empty value is an empty list.
func ParseAddressList(v string) ([]*mail.Address, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder()}
	return p.ParseList(v)
}

// ContentDisposition returns the lower-cased disposition type ("inline", "attachment"; empty
// when there is no Content-Disposition field) and its parameters, read leniently as
// ParseContentType reads, with the encoded words of a filename decoded as mail readers do.
func (h Header) ContentDisposition() (string, map[string]string) {
	v := h.Get("Content-Disposition")
	if v == "" {
		return "", map[string]string{}
	}
	disp, params := ParseContentType(v)
	if fn, ok := params["filename"]; ok {
		params["filename"] = DecodeWords(fn)
	}
	return disp, params
}

// Text returns the body of e decoded by its transfer encoding and, for a text/* entity, from
// its charset to UTF-8. Text in an unknown charset is given as it is, with an error wrapping
// ErrUnknownCharset.
func (e *Entity) Text() ([]byte, error) {
	body, err := e.Decoded()
	if err != nil || !strings.HasPrefix(e.MediaType, "text/") {
		return body, err
	}
	enc, err := lookupCharset(e.Params["charset"])
	if err != nil || enc == nil {
		return body, err
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return body, err
	}
	return out, nil
}

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
