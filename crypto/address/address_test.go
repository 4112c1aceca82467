package address

import "testing"

func TestParse(t *testing.T) {
	cases := []struct {
		in, want string // want "" means ErrSyntax
	}{
		{"alice@localhost", "alice@localhost"},
		{"Alice@Example.TEST", "Alice@example.test"},
		{"alice@example.test.", "alice@example.test"},
		{"user%remote.test@localhost", "user%remote.test@localhost"},
		{"remote.test!user@localhost", "remote.test!user@localhost"},
		{`"user@remote.test"@localhost`, `"user@remote.test"@localhost`},
		{"user@[127.0.0.1]", "user@[127.0.0.1]"},
		{"user@[IPv6:::1]", "user@[IPv6:::1]"},
		{"user@[ipv6:0::1]", "user@[IPv6:::1]"},
		{"user@[::1]", ""},
		{"user@[IPv6:1.2.3.4]", ""},
		{"@relay.test:user@remote.test", ""},
		{"@a,@b:user@c", ""},
		{"user", ""},
		{"@localhost", ""},
		{"user@", ""},
		{"user@-bad.test", ""},
		{"user@bad..test", ""},
		{"user@[300.1.1.1]", ""},
		{"us er@localhost", ""},
		{"user\x00@localhost", ""},
		{"\xff@localhost", ""},
		{"jörg@bücher.example", "jörg@bücher.example"},
		{"a@b@localhost", ""},
		{"a(b)@localhost", ""},
		{`"a"b"@localhost`, ""},
		{`"a\"b"@localhost`, `"a\"b"@localhost`},
		{"first.o'neil+tag@localhost", "first.o'neil+tag@localhost"},
	}
	for _, c := range cases {
		a, err := Parse(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want error", c.in, a)
			}
			continue
		}
		if err != nil || a.String() != c.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", c.in, a, err, c.want)
		}
	}
}

func TestKeyAndBase(t *testing.T) {
	a, _ := Parse("Alice+Lists@Example.Test")
	if a.Key() != "alice+lists@example.test" {
		t.Fatal(a.Key())
	}
	if b := (Subaddressing{Separator: "+"}).Base(a); b.String() != "Alice@example.test" {
		t.Fatal(b)
	}
}

func TestSubaddressing(t *testing.T) {
	own := func(d string) bool { return d == "example.test" }
	dash := Subaddressing{Separator: "-", Domains: own, Others: "+"}
	for _, c := range []struct {
		rule      Subaddressing
		in        string
		base, tag string
	}{
		{dash, "bob-x@example.test", "bob@example.test", "x"},
		{dash, "bob+x@example.test", "bob+x@example.test", ""},
		{dash, "-x@example.test", "-x@example.test", ""},
		{dash, "jean-pierre@partner.test", "jean-pierre@partner.test", ""}, // not our domain
		{dash, "bob+x@partner.test", "bob@partner.test", "x"},
		{Subaddressing{Separator: "+"}, "bob+a+b@partner.test", "bob@partner.test", "a+b"},
		{Subaddressing{}, "bob+x@example.test", "bob+x@example.test", ""},
		{dash, `"bob-x"@example.test`, `"bob-x"@example.test`, ""},
	} {
		a, err := Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		b, tag := c.rule.Split(a)
		if b.String() != c.base || tag != c.tag {
			t.Errorf("%q with %q: %s %q, want %s %q", c.in, c.rule.Separator, b, tag, c.base, c.tag)
		}
	}
	bob, _ := Parse("Bob@example.test")
	for in, want := range map[string]bool{"bob-x@example.test": true, "BOB@example.test": true, "bob+x@example.test": false, "bobby@example.test": false} {
		a, _ := Parse(in)
		if got := dash.Owns(bob, a); got != want {
			t.Errorf("Owns(bob, %s) = %v", in, got)
		}
	}
	jp, _ := Parse("jean-pierre@example.test")
	if jx, _ := Parse("jean-x@example.test"); dash.Owns(jp, jx) || !dash.Owns(jp, jp) {
		t.Error("an account whose name holds the separator owns itself, not its prefix's sub-addresses")
	}
}
