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
	if a.Base("+").String() != "Alice@example.test" {
		t.Fatal(a.Base("+"))
	}
}
