package sortthread

import (
	"strings"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// MissingDomain is the host of an address written without one ("From: root"), as Dovecot's
// ENVELOPE gives it; DISPLAYFROM and DISPLAYTO sort such an address as root@MISSING_DOMAIN.
const MissingDomain = "MISSING_DOMAIN"

// Address is one address as an IMAP ENVELOPE gives it. For the start of a group
// ("undisclosed-recipients:;") Mailbox holds the group name and Name and Host are empty; an
// address without a domain has Host MissingDomain.
type Address struct {
	// Name is the display name as it appears in the header (encoded words allowed).
	Name    string
	Mailbox string
	Host    string
}

// Display is the RFC 5957 DISPLAYFROM/DISPLAYTO sort key before case mapping: the decoded
// display name, else mailbox@host, else the mailbox (a group name).
func (a Address) Display() string {
	if n := strings.TrimSpace(mimeutil.DecodeWords(a.Name)); n != "" {
		return n
	}
	if a.Host != "" {
		return a.Mailbox + "@" + a.Host
	}
	return a.Mailbox
}

// FirstAddress parses the first address of an address-list header value (From, To, Cc).
// It is lenient the way mail readers are: a bare word is a mailbox without a domain, a
// missing ">" ends at the end of the value, a comment after an address without a display
// name ("user@host (Full Name)") becomes its name, and a group gives its name as the
// mailbox. An empty or unparsable value gives the zero Address.
func FirstAddress(value string) Address {
	p := addrParser{scanner{s: value}}
	var phrase []string
	comment := ""
	for {
		p.skipSpace()
		if p.done() {
			return phraseAddress(phrase, comment)
		}
		switch c := p.s[p.i]; c {
		case '(':
			if t := p.comment(); comment == "" {
				comment = t
			}
		case '"':
			phrase = append(phrase, p.quoted())
		case '<':
			p.i++
			a := fillHost(p.angle())
			a.Name = strings.Join(phrase, " ")
			if a.Name == "" {
				a.Name = p.trailingComment()
			}
			return a
		case ':':
			// A group: its name is what the envelope shows first.
			return Address{Mailbox: strings.Join(phrase, " ")}
		case '@':
			p.i++
			a := fillHost(Address{Mailbox: strings.Join(phrase, ""), Host: p.domain()})
			if comment == "" {
				comment = p.trailingComment()
			}
			a.Name = comment
			return a
		case ',', ';':
			p.i++
			if len(phrase) > 0 {
				return phraseAddress(phrase, comment)
			}
		default:
			phrase = append(phrase, p.atom())
		}
	}
}

// phraseAddress is an address written as words alone: a mailbox without a domain.
func phraseAddress(phrase []string, comment string) Address {
	if len(phrase) == 0 {
		return Address{}
	}
	return Address{Mailbox: strings.Join(phrase, ""), Host: MissingDomain, Name: comment}
}

// fillHost gives an address without a domain the MissingDomain host.
func fillHost(a Address) Address {
	if a.Mailbox != "" && a.Host == "" {
		a.Host = MissingDomain
	}
	return a
}

// scanner is a position in header text, shared by the address, date and message-ID readers.
type scanner struct {
	s string
	i int
}

// addrParser reads address lists: its atoms include '.', so a dot-atom is one word.
type addrParser struct{ scanner }

func (p *addrParser) done() bool { return p.i >= len(p.s) }

func (p *addrParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\r' || p.s[p.i] == '\n') {
		p.i++
	}
}

const addrSpecials = "()<>@,;:\\\"[] \t\r\n"

// atom reads a run of characters that are not specials ('.' included, so a dot-atom is one
// word); a lone special that nothing else takes is read as a word of its own.
func (p *addrParser) atom() string {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(addrSpecials, rune(p.s[p.i])) {
		p.i++
	}
	if p.i == start {
		if p.s[p.i] == '[' {
			return p.literal()
		}
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted string and returns its content without the quoting.
func (p *scanner) quoted() string {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// comment reads a comment, nested ones included, and returns its text.
func (p *addrParser) comment() string {
	depth := 0
	start := p.i + 1
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				p.i++
				return strings.TrimSpace(p.s[start : p.i-1])
			}
		case '\\':
			p.i++
		}
		p.i++
	}
	p.i = len(p.s)
	return strings.TrimSpace(p.s[min(start, len(p.s)):])
}

// literal reads a domain literal "[...]" whole.
func (p *addrParser) literal() string {
	start := p.i
	if end := strings.IndexByte(p.s[p.i:], ']'); end >= 0 {
		p.i += end + 1
	} else {
		p.i = len(p.s)
	}
	return p.s[start:p.i]
}

// domain reads the domain of an addr-spec, up to the end of the address.
func (p *addrParser) domain() string {
	var parts []string
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		c := p.s[p.i]
		if c == '(' {
			if len(parts) > 0 {
				break // a comment after the address, for trailingComment
			}
			p.comment()
			continue
		}
		if c == ',' || c == ';' || c == '<' || c == '>' || c == '"' || c == ':' || c == '@' {
			break
		}
		parts = append(parts, p.atom())
	}
	return strings.Join(parts, "")
}

// angle reads "[route:] local@domain>" after a "<".
func (p *addrParser) angle() Address {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '@' {
		// An obsolete source route, "@a,@b:": not part of the address.
		if colon := strings.IndexByte(p.s[p.i:], ':'); colon >= 0 {
			p.i += colon + 1
		}
	}
	var local []string
	var a Address
	for {
		p.skipSpace()
		if p.done() {
			a.Mailbox = strings.Join(local, "")
			return a
		}
		switch c := p.s[p.i]; c {
		case '>':
			p.i++
			a.Mailbox = strings.Join(local, "")
			return a
		case '"':
			local = append(local, p.quoted())
		case '(':
			p.comment()
		case '@':
			p.i++
			a.Mailbox = strings.Join(local, "")
			a.Host = p.domain()
			if p.i < len(p.s) && p.s[p.i] == '>' {
				p.i++
			}
			return a
		default:
			local = append(local, p.atom())
		}
	}
}

// trailingComment returns the text of a comment that directly follows an address.
func (p *addrParser) trailingComment() string {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		return p.comment()
	}
	return ""
}
