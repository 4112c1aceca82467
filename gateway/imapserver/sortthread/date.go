package sortthread

import (
	"strings"
	"time"
)

// parseDate reads a Date header the lenient way mail servers do (Dovecot's rules), since a
// date that fails to parse silently turns into the internal date and moves the message:
//
//	[weekday ","] day month year hour ":" minute [":" second] [zone]
//
// with comments and folding anywhere between tokens, a one-digit day or hour, "." as well as
// ":" between time fields, a two-digit year (below 70 is 20xx), and a zone that is numeric,
// UT/GMT, a North American zone (EST, PDT...), a military letter, or missing or unknown
// (taken as UTC). Anything after the zone is ignored. Out-of-range fields carry over
// ("23:59:60" is the next minute), as mktime does.
func parseDate(s string) (time.Time, bool) {
	p := dateParser{scanner{s: s}}
	p.skipCFWS()
	tok := p.atom()
	if len(tok) == 3 {
		// A weekday; its name is not checked, only that a comma follows.
		if !p.consume(',') {
			return time.Time{}, false
		}
		tok = p.atom()
	}
	day, ok := digits(tok, 1, 2)
	if !ok {
		return time.Time{}, false
	}
	tok = p.atom()
	if len(tok) < 3 {
		return time.Time{}, false
	}
	month := 0
	for i, name := range [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.EqualFold(tok[:3], name) {
			month = i + 1
			break
		}
	}
	if month == 0 {
		return time.Time{}, false
	}
	tok = p.atom()
	year, ok := digits(tok, 2, 4)
	switch {
	case !ok || len(tok) == 3:
		return time.Time{}, false
	case len(tok) == 2 && year < 70:
		year += 2000
	case len(tok) == 2:
		year += 1900
	case year < 1900:
		return time.Time{}, false
	}
	hour, ok := digits(p.atom(), 1, 2)
	if !ok || !p.timeSep() {
		return time.Time{}, false
	}
	minute, ok := digits(p.atom(), 2, 2)
	if !ok {
		return time.Time{}, false
	}
	second := 0
	if p.timeSep() {
		if second, ok = digits(p.atom(), 2, 2); !ok {
			return time.Time{}, false
		}
	}
	offset := zoneOffset(p.atom())
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC).Add(-time.Duration(offset) * time.Minute)
	return t.In(time.FixedZone("", offset*60)), true
}

// zoneOffset is a zone's offset from UTC in minutes; unknown zones are UTC.
func zoneOffset(z string) int {
	switch {
	case len(z) == 5 && (z[0] == '+' || z[0] == '-'):
		n, ok := digits(z[1:], 4, 4)
		if !ok {
			return 0
		}
		off := n/100*60 + n%100
		if z[0] == '-' {
			return -off
		}
		return off
	case len(z) == 1:
		// Military zones, with the signs RFC 822 meant (not the ones it wrote).
		c := z[0] &^ 0x20
		switch {
		case c >= 'A' && c < 'J':
			return int(c-'A'+1) * 60
		case c >= 'K' && c <= 'M':
			return int(c-'A') * 60
		case c >= 'N' && c < 'Z':
			return -int(c-'M') * 60
		}
		return 0
	case len(z) == 3 && (z[2] == 'T' || z[2] == 't'):
		base := 0
		switch z[0] &^ 0x20 {
		case 'E':
			base = -5 * 60
		case 'C':
			base = -6 * 60
		case 'M':
			base = -7 * 60
		case 'P':
			base = -8 * 60
		default:
			return 0
		}
		switch z[1] &^ 0x20 {
		case 'D':
			return base + 60
		case 'S':
			return base
		}
	}
	return 0
}

// digits parses s as a decimal number of min to max digits.
func digits(s string, min, max int) (int, bool) {
	if len(s) < min || len(s) > max {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// dateParser scans RFC 5322 structured header text (dates, message IDs): atoms with the
// comments and folding between them skipped.
type dateParser struct{ scanner }

// skipCFWS skips whitespace and (nested) comments.
func (p *dateParser) skipCFWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '(':
			for depth := 0; p.i < len(p.s); {
				c := p.s[p.i]
				p.i++
				switch c {
				case '\\':
					p.i = min(p.i+1, len(p.s))
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
		default:
			return
		}
	}
}

// atom reads a run of RFC 5322 atext and the CFWS after it; "" when none is there.
func (p *dateParser) atom() string {
	start := p.i
	for p.i < len(p.s) && isAtext(p.s[p.i]) {
		p.i++
	}
	tok := p.s[start:p.i]
	p.skipCFWS()
	return tok
}

// dotAtom reads atoms joined by dots, with CFWS allowed around them, and returns them
// joined without it.
func (p *dateParser) dotAtom() string {
	var b strings.Builder
	for {
		tok := p.atom()
		if tok == "" {
			return ""
		}
		b.WriteString(tok)
		if !p.consume('.') {
			return b.String()
		}
		b.WriteByte('.')
	}
}

func (p *dateParser) consume(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		p.skipCFWS()
		return true
	}
	return false
}

func (p *dateParser) timeSep() bool { return p.consume(':') || p.consume('.') }

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c >= 0x80 || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
