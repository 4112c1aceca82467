package addressing

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

func addr(s string) address.Address {
	a, err := address.Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}

func setup(t *testing.T) (*Directory, *mailstore.Store, *SRS) {
	t.Helper()
	s, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, u := range []string{"admin@example.test", "alice@example.test", "bob@example.test", "Jörg@example.test"} {
		if _, err := s.AddUser(ctx, addr(u), "h"); err != nil {
			t.Fatal(err)
		}
	}
	alice, _ := s.UserByAddress(ctx, addr("alice@example.test"))
	if _, err := s.CreateMailbox(ctx, alice.ID, "lists", ""); err != nil {
		t.Fatal(err)
	}
	srs, err := LoadOrCreateSRS(filepath.Join(t.TempDir(), "srs.secret"))
	if err != nil {
		t.Fatal(err)
	}
	d := New(Options{Store: s, IsLocalDomain: func(d string) bool { return d == "example.test" || d == "other.test" }, Subaddressing: address.Subaddressing{Separator: "+"}, SRS: srs})
	return d, s, srs
}

func alias(t *testing.T, s *mailstore.Store, key string, targets ...string) error {
	t.Helper()
	return s.SetAlias(context.Background(), key, mailstore.Alias{Address: key, Targets: targets}, CheckLoops)
}

// describe renders targets compactly: user@domain[/folder], or >remote.
func describe(ts []Target) string {
	var out []string
	for _, t := range ts {
		switch {
		case t.UserID == 0:
			out = append(out, ">"+t.Address.Key())
		case t.Mailbox != "":
			out = append(out, t.Base.Key()+"/"+t.Mailbox)
		default:
			out = append(out, t.Base.Key())
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestResolve(t *testing.T) {
	d, s, _ := setup(t)
	for _, a := range [][]string{
		{"team@example.test", "alice@example.test", "bob@example.test", "sub@example.test"},
		{"sub@example.test", "alice@example.test", "jörg@example.test"},
		{"fwd@example.test", "friend@elsewhere.test"},
		{"alice-copy@example.test", "alice@example.test", "alice@elsewhere.test"},
		{"bob@example.test", "bob@example.test", "bob@elsewhere.test"}, // keep a copy and forward
		{"@other.test", "admin@example.test"},
		{"abuse@example.test", "bob@example.test"},
		{"stale@example.test", "gone@example.test", "alice@example.test"},
	} {
		if err := alias(t, s, addr2key(a[0]), a[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ in, want string }{
		{"alice@example.test", "alice@example.test"},
		{"ALICE@Example.TEST", "alice@example.test"},
		{"alice+lists@example.test", "alice@example.test/lists"},
		{"alice+nofolder@example.test", "alice@example.test"},
		{"team@example.test", ">bob@elsewhere.test alice@example.test bob@example.test jörg@example.test"},
		{"team+x@example.test", ">bob@elsewhere.test alice@example.test bob@example.test jörg@example.test"},
		{"fwd@example.test", ">friend@elsewhere.test"},
		{"bob@example.test", ">bob@elsewhere.test bob@example.test"},
		{"postmaster@example.test", "admin@example.test"},
		{"POSTMASTER@other.test", "admin@example.test"},
		{"abuse@example.test", ">bob@elsewhere.test bob@example.test"},
		{"anything@other.test", "admin@example.test"},
		{"stale@example.test", "alice@example.test"},
		{"nobody@example.test", "ERR"},
		{"srs0=abcd=xx=x.test=y@example.test", "ERR"},
	}
	for _, c := range cases {
		ts, err := d.Resolve(context.Background(), addr(c.in))
		got := describe(ts)
		if err != nil {
			got = "ERR"
			if !errors.Is(err, ErrUnknown) {
				got = err.Error()
			}
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.in, got, c.want)
		}
	}
}

func addr2key(s string) string {
	if strings.HasPrefix(s, "@") {
		return CatchAllKey(s[1:])
	}
	return addr(s).Key()
}

func TestLoopsRefused(t *testing.T) {
	_, s, _ := setup(t)
	if err := alias(t, s, "a@example.test", "b@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := alias(t, s, "b@example.test", "c@example.test", "alice@example.test"); err != nil {
		t.Fatal(err)
	}
	err := alias(t, s, "c@example.test", "a@example.test")
	if !errors.Is(err, ErrLoop) || !strings.Contains(err.Error(), "a@example.test → b@example.test → c@example.test → a@example.test") {
		t.Fatalf("loop: %v", err)
	}
	if _, err := s.AliasByKey(context.Background(), "c@example.test"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatal("the alias that closes a loop was stored")
	}
	if err := alias(t, s, "c@example.test", "c@example.test", "x@elsewhere.test"); err != nil {
		t.Fatalf("self-reference (keep a copy) refused: %v", err)
	}
}

func TestSRS(t *testing.T) {
	_, _, srs := setup(t)
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	srs.Now = func() time.Time { return now }
	fwd := srs.Forward("Someone@Outside.TEST", "example.test")
	if !strings.HasPrefix(fwd, "SRS0=") || !strings.HasSuffix(fwd, "=outside.test=Someone@example.test") {
		t.Fatalf("SRS address %q", fwd)
	}
	orig, err := srs.Reverse(addr(fwd))
	if err != nil || orig.String() != "Someone@outside.test" {
		t.Fatalf("reverse: %v %v", orig, err)
	}
	// Some MTAs change the case of local parts.
	if _, err := srs.Reverse(addr(strings.ToLower(fwd))); err != nil {
		t.Fatalf("lower-cased SRS address refused: %v", err)
	}
	forged := strings.Replace(fwd, "=outside.test=", "=victim.test=", 1)
	if _, err := srs.Reverse(addr(forged)); !errors.Is(err, ErrBadSRS) {
		t.Fatalf("forged SRS accepted: %v", err)
	}
	now = now.Add(22 * 24 * time.Hour)
	if _, err := srs.Reverse(addr(fwd)); !errors.Is(err, ErrBadSRS) {
		t.Fatal("expired SRS address accepted")
	}
	if srs.Forward("", "example.test") != "" {
		t.Fatal("the null sender was rewritten")
	}
}

// TestResolveDashSeparator: with "-" the tag splits at "-" (and "+" is an ordinary character);
// every target carries the base its policy and keys come from; an account whose name holds
// the separator is found by its own address first.
func TestResolveDashSeparator(t *testing.T) {
	_, s, _ := setup(t)
	ctx := context.Background()
	if _, err := s.AddUser(ctx, addr("jean-pierre@example.test"), "h"); err != nil {
		t.Fatal(err)
	}
	d := New(Options{Store: s, IsLocalDomain: func(d string) bool { return d == "example.test" },
		Subaddressing: address.Subaddressing{Separator: "-", Domains: func(d string) bool { return d == "example.test" }}})
	for in, want := range map[string]string{
		"bob-x@example.test":         "bob@example.test",
		"alice-lists@example.test":   "alice@example.test/lists",
		"jean-pierre@example.test":   "jean-pierre@example.test",
		"jean-pierre-x@example.test": "ERR", // the tag starts at the first separator (as in Postfix): no jean@
		"bob+x@example.test":         "ERR",
	} {
		ts, err := d.Resolve(ctx, addr(in))
		got := describe(ts)
		if err != nil {
			got = "ERR"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
