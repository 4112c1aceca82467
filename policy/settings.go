// Package policy holds Sealgate's per-user key policy: the settings operators make at global,
// domain and address scope, and (as the engine grows) the decision of what to do with each
// message for each recipient.
//
// It is pure: it imports only the standard library, does no I/O and holds no key material.
// Callers load stored settings, pass them in, and act on what comes back.
//
// # Settings and inheritance
//
// A setting is KEY=VALUE at a scope: "global", a domain ("example.test"), or an address
// ("alice@example.test"). An address inherits from its domain, the domain from global, and
// global from the built-in default of the key. Effective resolves one address and says where
// each value came from.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Errors of ParseScope and Validate.
var (
	ErrUnknownKey = errors.New("policy: unknown key")
	ErrBadValue   = errors.New("policy: invalid value")
	ErrBadScope   = errors.New("policy: invalid scope")
)

// KeySpec describes one setting.
type KeySpec struct {
	Name    string
	Values  []string // the allowed values
	Default string
	Doc     string
}

// Specs are every setting, in the order they are shown.
var specs = []KeySpec{
	{"inbound.decrypt", []string{"true", "false"}, "true", "decrypt mail to this recipient when the gateway holds its secret key"},
	{"inbound.verify", []string{"true", "false"}, "true", "verify signatures and record the result"},
	{"inbound.encrypt", []string{"none", "pgp", "smime", "auto"}, "none", "encrypt plaintext mail to the recipient's public key before storing it"},
	{"outbound.sign", []string{"none", "pgp", "smime", "auto"}, "none", "sign mail from this sender with its gateway-held key"},
	{"outbound.encrypt", []string{"never", "opportunistic", "required"}, "opportunistic", "encrypt to each recipient whose key is known; required rejects when a key is missing"},
	{"outbound.scheme", []string{"auto", "pgp", "smime"}, "auto", "preferred scheme when a recipient has both"},
	{"pop3.mode", []string{"client", "delete", "keep"}, "client", "who decides deletion over POP3: the client; delete retrieved mail at QUIT; or DELE only hides mail from POP3"},
}

// Specs returns every setting's description, in display order.
func Specs() []KeySpec { return slices.Clone(specs) }

// Spec returns the description of one key.
func Spec(key string) (KeySpec, bool) {
	for _, s := range specs {
		if s.Name == key {
			return s, true
		}
	}
	return KeySpec{}, false
}

// Validate checks one KEY=VALUE.
func Validate(key, value string) error {
	s, ok := Spec(key)
	if !ok {
		return fmt.Errorf("%w %q (known keys: %s)", ErrUnknownKey, key, strings.Join(keyNames(), ", "))
	}
	if !slices.Contains(s.Values, value) {
		return fmt.Errorf("%w %q for %s (one of: %s)", ErrBadValue, value, key, strings.Join(s.Values, ", "))
	}
	return nil
}

func keyNames() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// ScopeKind orders scopes from the widest.
type ScopeKind int

// Scope kinds.
const (
	Global ScopeKind = iota
	Domain
	Address
)

// Scope is where a setting applies.
type Scope struct {
	Kind ScopeKind
	Name string // "global", a lower-case domain, or an address with a lower-case domain
}

func (s Scope) String() string { return s.Name }

// GlobalScope is the widest scope.
var GlobalScope = Scope{Kind: Global, Name: "global"}

// ParseScope reads "global", a domain, or an address. Domains are lower-cased; the local part
// of an address is case-folded too, as account names are.
func ParseScope(s string) (Scope, error) {
	if strings.EqualFold(s, "global") {
		return GlobalScope, nil
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		local, domain := s[:i], s[i+1:]
		if local == "" || !validDomain(domain) || strings.ContainsAny(local, " \t\r\n\x00@") {
			return Scope{}, fmt.Errorf("%w %q", ErrBadScope, s)
		}
		return Scope{Kind: Address, Name: strings.ToLower(local) + "@" + strings.ToLower(domain)}, nil
	}
	if !validDomain(s) {
		return Scope{}, fmt.Errorf("%w %q: use global, a domain or an address", ErrBadScope, s)
	}
	return Scope{Kind: Domain, Name: strings.ToLower(s)}, nil
}

func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80) {
				return false
			}
		}
	}
	return true
}

// Settings are the stored settings: scope name → key → value.
type Settings map[string]map[string]string

// Value is an effective setting and where it came from.
type Value struct {
	Key    string
	Value  string
	Source string // "default", "global", the domain or the address
}

// Chain is the scopes an address inherits from, narrowest first.
func Chain(scope Scope) []Scope {
	switch scope.Kind {
	case Address:
		domain := scope.Name[strings.LastIndexByte(scope.Name, '@')+1:]
		return []Scope{scope, {Kind: Domain, Name: domain}, GlobalScope}
	case Domain:
		return []Scope{scope, GlobalScope}
	}
	return []Scope{GlobalScope}
}

// Effective resolves every key for a scope. Stored values that are no longer valid (a key
// removed, a value renamed) are skipped, so the next scope or the default applies.
func (s Settings) Effective(scope Scope) []Value {
	chain := Chain(scope)
	out := make([]Value, 0, len(specs))
	for _, spec := range specs {
		v := Value{Key: spec.Name, Value: spec.Default, Source: "default"}
		for _, sc := range chain {
			if val, ok := s[sc.Name][spec.Name]; ok && Validate(spec.Name, val) == nil {
				v.Value, v.Source = val, sc.Name
				break
			}
		}
		out = append(out, v)
	}
	return out
}

// Get resolves one key for a scope.
func (s Settings) Get(scope Scope, key string) Value {
	for _, v := range s.Effective(scope) {
		if v.Key == key {
			return v
		}
	}
	return Value{Key: key}
}

// ParseAssignments reads KEY=VALUE arguments, validating each. An empty VALUE means "remove
// the setting at this scope".
func ParseAssignments(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, errors.New("policy: no KEY=VALUE given")
	}
	out := map[string]string{}
	var errs []string
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			errs = append(errs, fmt.Sprintf("%q is not KEY=VALUE", a))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, known := Spec(k); known && v == "" {
			out[k] = "" // KEY= removes the setting: the scope inherits again
			continue
		}
		if err := Validate(k, v); err != nil {
			errs = append(errs, strings.TrimPrefix(err.Error(), "policy: "))
			continue
		}
		out[k] = v
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, errors.New("policy: " + strings.Join(errs, "; "))
	}
	return out, nil
}
