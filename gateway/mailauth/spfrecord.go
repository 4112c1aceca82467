package mailauth

import (
	"fmt"
	"net/netip"
	"strings"
)

// spfRecord is a parsed SPF record (RFC 7208 §4.6, §12 ABNF). Unknown modifiers are
// checked and dropped (§6).
type spfRecord struct {
	mechanisms  []spfMechanism
	redirect    string // domain-spec
	hasRedirect bool
	exp         string // domain-spec
	hasExp      bool
}

// spfMechanism is one directive.
type spfMechanism struct {
	text         string // as written, for the reason
	qual         SPFResult
	name         string       // all, include, a, mx, ptr, ip4, ip6, exists
	domain       string       // the domain-spec; "" is the current domain
	prefix       netip.Prefix // ip4, ip6
	cidr4, cidr6 int          // a, mx
}

// parseSPF parses a whole record: terms are separated by spaces only, every byte is
// printable 7-bit ASCII, every domain-spec and macro is checked.
func parseSPF(rec string) (*spfRecord, error) {
	for i := 0; i < len(rec); i++ {
		if rec[i] < ' ' || rec[i] > '~' {
			return nil, fmt.Errorf("%w: byte %#x in the record", errSPFPerm, rec[i])
		}
	}
	terms := strings.Split(rec, " ")
	if !strings.EqualFold(terms[0], "v=spf1") {
		return nil, fmt.Errorf("%w: not an SPF version 1 record", errSPFPerm)
	}
	r := &spfRecord{}
	for _, term := range terms[1:] {
		if term == "" {
			continue
		}
		if i := strings.IndexAny(term, "=:/"); i >= 0 && term[i] == '=' {
			if err := r.modifier(term[:i], term[i+1:]); err != nil {
				return nil, err
			}
			continue
		}
		m, err := parseMechanism(term)
		if err != nil {
			return nil, err
		}
		r.mechanisms = append(r.mechanisms, m)
	}
	return r, nil
}

func (r *spfRecord) modifier(name, value string) error {
	if !validModifierName(name) {
		return fmt.Errorf("%w: malformed modifier name %q", errSPFPerm, name)
	}
	switch strings.ToLower(name) {
	case "redirect", "exp":
		if !validDomainSpec(value) {
			return fmt.Errorf("%w: %s=%q is not a domain-spec", errSPFPerm, name, value)
		}
		if strings.EqualFold(name, "redirect") {
			if r.hasRedirect {
				return fmt.Errorf("%w: two redirect modifiers", errSPFPerm)
			}
			r.redirect, r.hasRedirect = value, true
		} else {
			if r.hasExp {
				return fmt.Errorf("%w: two exp modifiers", errSPFPerm)
			}
			r.exp, r.hasExp = value, true
		}
	default:
		if scanMacros(value, macroDomain, nil, nil) != nil {
			return fmt.Errorf("%w: bad macro in %s=%q", errSPFPerm, name, value)
		}
	}
	return nil
}

func validModifierName(k string) bool {
	if k == "" || !isAlpha(k[0]) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func parseMechanism(term string) (spfMechanism, error) {
	m := spfMechanism{text: term, qual: SPFPass, cidr4: 32, cidr6: 128}
	switch term[0] {
	case '+':
		term = term[1:]
	case '-':
		m.qual, term = SPFFail, term[1:]
	case '~':
		m.qual, term = SPFSoftFail, term[1:]
	case '?':
		m.qual, term = SPFNeutral, term[1:]
	}
	bad := func(why string) (spfMechanism, error) {
		return m, fmt.Errorf("%w: %s in %q", errSPFPerm, why, m.text)
	}
	end := strings.IndexAny(term, ":/")
	if end < 0 {
		end = len(term)
	}
	m.name, term = strings.ToLower(term[:end]), term[end:]
	arg, hasArg := strings.CutPrefix(term, ":")
	switch m.name {
	case "all":
		if term != "" {
			return bad("arguments")
		}
	case "include", "exists":
		if !hasArg || !validDomainSpec(arg) {
			return bad("no domain-spec")
		}
		m.domain = arg
	case "ptr":
		if term != "" && (!hasArg || !validDomainSpec(arg)) {
			return bad("a malformed domain-spec")
		}
		m.domain = arg
	case "a", "mx":
		spec, c4, c6, ok := cutDualCIDR(term)
		if !ok {
			return bad("a malformed CIDR length")
		}
		m.cidr4, m.cidr6 = c4, c6
		if spec != "" {
			d, ok := strings.CutPrefix(spec, ":")
			if !ok || !validDomainSpec(d) {
				return bad("a malformed domain-spec")
			}
			m.domain = d
		}
	case "ip4", "ip6":
		if !hasArg {
			return bad("no address")
		}
		addr, bits, hasBits := strings.Cut(arg, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Zone() != "" || (m.name == "ip4") != a.Is4() {
			return bad("a malformed address")
		}
		n, ok := a.BitLen(), true
		if hasBits {
			if n, ok = cidrLength(bits, a.BitLen()); !ok {
				return bad("a malformed CIDR length")
			}
		}
		m.prefix = netip.PrefixFrom(a, n).Masked()
	default:
		return bad("an unknown mechanism")
	}
	return m, nil
}

// cutDualCIDR splits "[:domain-spec][/n4][//n6]" into the domain part and the lengths.
func cutDualCIDR(s string) (spec string, c4, c6 int, ok bool) {
	c4, c6, ok = 32, 128, true
	if i := strings.LastIndex(s, "//"); i >= 0 && onlyDigits(s[i+2:]) {
		if c6, ok = cidrLength(s[i+2:], 128); !ok {
			return
		}
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && onlyDigits(s[i+1:]) {
		if c4, ok = cidrLength(s[i+1:], 32); !ok {
			return
		}
		s = s[:i]
	}
	if strings.HasPrefix(s, "/") { // a slash that is no CIDR length
		return s, c4, c6, false
	}
	return s, c4, c6, true
}

func onlyDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cidrLength: "0", or digits without a leading zero, at most max (§12 ip4-cidr-length).
func cidrLength(s string, max int) (int, bool) {
	if !onlyDigits(s) || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= max
}

// validDomainSpec: a macro-string that ends in a macro or in "." toplabel ["."] (§7.1).
func validDomainSpec(s string) bool {
	if s == "" || scanMacros(s, macroDomain, nil, nil) != nil {
		return false
	}
	var tail string // the literal text after the last macro
	endsInMacro := false
	scanMacros(s, macroDomain, func(lit string) { tail += lit; endsInMacro = false }, func(macro) { tail, endsInMacro = "", true })
	if endsInMacro && tail == "" {
		return true
	}
	tail = strings.TrimSuffix(tail, ".")
	dot := strings.LastIndexByte(tail, '.')
	return dot >= 0 && validTopLabel(tail[dot+1:])
}

// validTopLabel: letters, digits and inner hyphens, not all digits.
func validTopLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	digits := true
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			digits = false
		case c >= '0' && c <= '9':
		case c == '-':
			digits = false
		default:
			return false
		}
	}
	return !digits
}

// macroKind says where a macro-string is: explanations allow the letters c, r and t, and
// spaces.
type macroKind int

const (
	macroDomain macroKind = iota
	macroExplain
)

// macro is one %{...} expansion.
type macro struct {
	letter  byte // lower case
	upper   bool // URL-escape the value
	digits  int  // right-hand parts to keep; 0 is all
	reverse bool
	delims  string
}

// scanMacros checks a macro-string and reports its literal text and macros in order
// (either function may be nil). "%%", "%_" and "%-" are literal text.
func scanMacros(s string, kind macroKind, literal func(string), expand func(macro)) error {
	if literal == nil {
		literal = func(string) {}
	}
	if expand == nil {
		expand = func(macro) {}
	}
	bad := fmt.Errorf("%w: bad macro in %q", errSPFPerm, s)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '%' {
			if ch < '!' || ch > '~' {
				if !(kind == macroExplain && ch == ' ') {
					return bad
				}
			}
			literal(s[i : i+1])
			continue
		}
		if i+1 >= len(s) {
			return bad
		}
		i++
		switch s[i] {
		case '%':
			literal("%")
			continue
		case '_':
			literal(" ")
			continue
		case '-':
			literal("%20")
			continue
		case '{':
		default:
			return bad
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 2 {
			return bad
		}
		body := s[i+1 : i+end]
		i += end
		var m macro
		l := body[0]
		m.upper = l >= 'A' && l <= 'Z'
		m.letter = l | 0x20
		allowed := "slodiphv"
		if kind == macroExplain {
			allowed += "crt"
		}
		if !isAlpha(l) || strings.IndexByte(allowed, m.letter) < 0 {
			return bad
		}
		rest := body[1:]
		nd := 0
		for nd < len(rest) && rest[nd] >= '0' && rest[nd] <= '9' {
			nd++
		}
		if nd > 0 {
			if nd > 3 {
				return bad
			}
			for _, d := range rest[:nd] {
				m.digits = m.digits*10 + int(d-'0')
			}
			if m.digits == 0 {
				return bad
			}
		}
		rest = rest[nd:]
		if len(rest) > 0 && (rest[0] == 'r' || rest[0] == 'R') {
			m.reverse, rest = true, rest[1:]
		}
		for j := 0; j < len(rest); j++ {
			if strings.IndexByte(".-+,/_=", rest[j]) < 0 {
				return bad
			}
		}
		m.delims = rest
		if m.delims == "" {
			m.delims = "."
		}
		expand(m)
	}
	return nil
}
