package policy

import (
	"errors"
	"testing"
)

func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		kind ScopeKind
		name string
		ok   bool
	}{
		{"global", Global, "global", true},
		{"GLOBAL", Global, "global", true},
		{"Example.TEST", Domain, "example.test", true},
		{"Alice@Example.TEST", Address, "alice@example.test", true},
		{"", 0, "", false},
		{"@example.test", 0, "", false},
		{"alice@", 0, "", false},
		{"a b@example.test", 0, "", false},
		{"-bad.test", 0, "", false},
		{"a@b@c.test", 0, "", false},
	}
	for _, c := range cases {
		s, err := ParseScope(c.in)
		if (err == nil) != c.ok || (c.ok && (s.Kind != c.kind || s.Name != c.name)) {
			t.Errorf("ParseScope(%q) = %+v, %v", c.in, s, err)
		}
		if !c.ok && !errors.Is(err, ErrBadScope) {
			t.Errorf("ParseScope(%q) error %v is not ErrBadScope", c.in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := Validate("pop3.mode", "keep"); err != nil {
		t.Fatal(err)
	}
	if err := Validate("pop3.mode", "KEEP"); !errors.Is(err, ErrBadValue) {
		t.Fatalf("bad value: %v", err)
	}
	if err := Validate("pop3.mod", "keep"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := ParseAssignments([]string{"pop3.mode=keep", "inbound.encrypt=rot13", "nokey"}); err == nil {
		t.Fatal("bad assignments accepted")
	}
	kv, err := ParseAssignments([]string{"pop3.mode = delete", "outbound.encrypt=required"})
	if err != nil || kv["pop3.mode"] != "delete" || kv["outbound.encrypt"] != "required" {
		t.Fatalf("%v %v", kv, err)
	}
}

// One row per inheritance rule.
func TestEffectiveInheritance(t *testing.T) {
	s := Settings{
		"global":              {"pop3.mode": "keep", "inbound.encrypt": "pgp"},
		"example.test":        {"pop3.mode": "delete"},
		"alice@example.test":  {"pop3.mode": "client"},
		"broken@example.test": {"pop3.mode": "sometimes"}, // invalid stored value: skipped
	}
	addr := func(a string) Scope { sc, _ := ParseScope(a); return sc }
	cases := []struct {
		scope      Scope
		key        string
		val, where string
	}{
		{addr("alice@example.test"), "pop3.mode", "client", "alice@example.test"}, // address wins
		{addr("bob@example.test"), "pop3.mode", "delete", "example.test"},         // domain next
		{addr("carol@other.test"), "pop3.mode", "keep", "global"},                 // then global
		{addr("carol@other.test"), "outbound.scheme", "auto", "default"},          // then the default
		{addr("alice@example.test"), "inbound.encrypt", "pgp", "global"},          // per key
		{addr("broken@example.test"), "pop3.mode", "delete", "example.test"},      // invalid value skipped
		{GlobalScope, "pop3.mode", "keep", "global"},
		{addr("example.test"), "pop3.mode", "delete", "example.test"},
	}
	for _, c := range cases {
		v := s.Get(c.scope, c.key)
		if v.Value != c.val || v.Source != c.where {
			t.Errorf("%s %s = %s from %s, want %s from %s", c.scope, c.key, v.Value, v.Source, c.val, c.where)
		}
	}
	if n := len(s.Effective(GlobalScope)); n != len(Specs()) {
		t.Fatalf("Effective gives %d keys", n)
	}
}
