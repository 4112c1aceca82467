// Package address parses and compares mail addresses the way every part of Sealgate must agree
// on: SMTP envelope paths (RFC 5321 §4.1.2), account names and header addresses.
//
// Canonical form: the domain is lower-cased with one trailing dot removed; the local part keeps
// its bytes. Account look-ups fold the case of the local part too (as Postfix and Dovecot do),
// so Alice@Example.Test and alice@example.test are one account. Source routes, quoted local
// parts, bang paths and percent hacks are not interpreted: such an address is taken literally,
// which makes it an unknown local user or a foreign domain, never a relay path.
package address

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// ErrSyntax reports an address that is not local-part@domain.
var ErrSyntax = errors.New("address: not a valid mail address")

// Address is a parsed mail address.
type Address struct {
	Local  string
	Domain string // lower case, no trailing dot; "[192.0.2.1]" or "[IPv6:2001:db8::1]" for address literals
}

// String is the canonical form.
func (a Address) String() string { return a.Local + "@" + a.Domain }

// Key is the form used to look up accounts: local part and domain both case-folded.
func (a Address) Key() string { return strings.ToLower(a.Local) + "@" + a.Domain }

// IsLiteral reports a domain written as an address literal ("[192.0.2.1]").
func (a Address) IsLiteral() bool { return strings.HasPrefix(a.Domain, "[") }

// Parse parses an envelope or account address. It refuses empty parts, control characters,
// source routes, invalid UTF-8, and addresses longer than RFC 5321 allows.
func Parse(s string) (Address, error) {
	if len(s) == 0 || len(s) > 254 || !utf8.ValidString(s) {
		return Address{}, ErrSyntax
	}
	if strings.HasPrefix(s, "@") { // source route "@a,@b:user@c"
		return Address{}, ErrSyntax
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f {
			if r == ' ' && strings.HasPrefix(s, `"`) {
				continue // allowed inside a quoted local part
			}
			return Address{}, ErrSyntax
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return Address{}, ErrSyntax
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return Address{}, ErrSyntax
	}
	if !validLocal(local) {
		return Address{}, ErrSyntax
	}
	d, ok := normalizeDomain(domain)
	if !ok {
		return Address{}, ErrSyntax
	}
	return Address{Local: local, Domain: d}, nil
}

// validLocal accepts an RFC 5321 Dot-string (atext and dots; UTF-8 allowed per RFC 6531) or
// a Quoted-string.
func validLocal(l string) bool {
	if strings.HasPrefix(l, `"`) {
		if len(l) < 2 || !strings.HasSuffix(l, `"`) {
			return false
		}
		inner := l[1 : len(l)-1]
		for i := 0; i < len(inner); i++ {
			switch c := inner[i]; {
			case c == '\\':
				i++
				if i == len(inner) {
					return false
				}
			case c == '"':
				return false
			}
		}
		return true
	}
	for _, r := range l {
		if r >= 0x80 || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r) {
			return false
		}
	}
	return true
}

// Domain returns the canonical form of a domain name, or false when it is not one.
func Domain(s string) (string, bool) { return normalizeDomain(s) }

func normalizeDomain(d string) (string, bool) {
	if strings.HasPrefix(d, "[") {
		if !strings.HasSuffix(d, "]") {
			return "", false
		}
		inner := d[1 : len(d)-1]
		v6 := len(inner) > 5 && strings.EqualFold(inner[:5], "IPv6:")
		if v6 {
			inner = inner[5:]
		}
		ip, err := netip.ParseAddr(inner)
		if err != nil || ip.Zone() != "" || ip.Is6() != v6 {
			return "", false
		}
		if v6 {
			return "[IPv6:" + ip.String() + "]", true
		}
		return "[" + ip.String() + "]", true
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return "", false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, r := range label {
			ok := r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80
			if !ok {
				return "", false
			}
		}
	}
	return strings.ToLower(d), true
}
