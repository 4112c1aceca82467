package address

import "strings"

// Subaddressing is the gateway's one sub-address rule: in the gateway's own domains,
// user<sep>tag@domain is user@domain with the tag "tag" (RFC 5233); in other domains the
// separator those domains are assumed to use (Others) splits the same way. Every part that must know
// whose address a recipient or sender is — delivery, policy scopes, key look-up, sender
// ownership, bounces — reads it through this rule, handed down from the configuration
// ([addressing] subaddress_separator); nothing else splits local parts.
//
// The zero value turns sub-addresses off: every address is its own base.
type Subaddressing struct {
	// Separator between the base local part and the tag; "" turns sub-addresses off.
	Separator string
	// Domains reports the gateway's own domains, where Separator applies. nil means every
	// domain.
	Domains func(domain string) bool
	// Others is the separator assumed in every other domain; "" splits none. The configured
	// separator never applies there: "-" is part of many names (jean-pierre@), and splitting
	// at it would let jean-x@ claim the keys and policy of jean@.
	Others string
}

// Split returns the base address and the tag of a: "bob+lists@d" → "bob@d", "lists" with
// separator "+". An address without a tag is its own base, with tag "". A separator at the
// start of the local part does not split it ("+x@d" is an address of its own), nor is a
// quoted local part split.
func (s Subaddressing) Split(a Address) (base Address, tag string) {
	sep := s.Separator
	if s.Domains != nil && !s.Domains(a.Domain) {
		sep = s.Others
	}
	if sep == "" || strings.HasPrefix(a.Local, `"`) { // a quoted local part is taken whole
		return a, ""
	}
	i := strings.Index(a.Local, sep)
	if i <= 0 {
		return a, ""
	}
	return Address{Local: a.Local[:i], Domain: a.Domain}, a.Local[i+len(sep):]
}

// Base returns a without its tag.
func (s Subaddressing) Base(a Address) Address {
	b, _ := s.Split(a)
	return b
}

// Owns reports whether addr belongs to the account address own: own itself or a sub-address
// of it, compared as account look-ups are (case-insensitively).
func (s Subaddressing) Owns(own, addr Address) bool {
	return addr.Key() == own.Key() || s.Base(addr).Key() == own.Key()
}
