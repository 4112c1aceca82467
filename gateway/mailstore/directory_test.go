package mailstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestPolicyCacheSeesOtherProcess: settings are cached, and a change made through another
// Store on the same directory (the CLI is another process) is seen by the next read.
func TestPolicyCacheSeesOtherProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	server, cli := openTest(t, dir), openTest(t, dir)

	get := func() string {
		t.Helper()
		s, err := server.PolicySettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s["bob@example.test"]["inbound.encrypt"]
	}
	if v := get(); v != "" {
		t.Fatalf("fresh store has %q", v)
	}
	steps := []struct{ set, want string }{
		{"pgp", "pgp"},     // insert
		{"smime", "smime"}, // update
		{"", ""},           // delete
		{"pgp", "pgp"},     // insert again
	}
	for _, st := range steps {
		if err := cli.SetPolicy(ctx, "bob@example.test", map[string]string{"inbound.encrypt": st.set}); err != nil {
			t.Fatal(err)
		}
		if v := get(); v != st.want {
			t.Fatalf("after setting %q the server reads %q", st.set, v)
		}
		if v := get(); v != st.want { // from the cache
			t.Fatalf("cached read %q, want %q", v, st.want)
		}
	}
	// The server's own writes count as well.
	if err := server.SetPolicy(ctx, "global", map[string]string{"inbound.encrypt": "none"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := server.PolicySettings(ctx); s["global"]["inbound.encrypt"] != "none" {
		t.Fatalf("own change not seen: %v", s)
	}
}

// TestDirectoryCacheSeesOtherProcess: accounts and aliases read for delivery are cached, and a
// change made through another Store on the same directory is seen by the next lookup.
func TestDirectoryCacheSeesOtherProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server, cli := openTest(t, dir), openTest(t, dir)
	bob := mustAddr(t, "Bob@x.test")

	// read is what a lookup found: "none" for ErrNotFound.
	read := func(found string, err error) string {
		t.Helper()
		if errors.Is(err, ErrNotFound) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	user := func() string {
		t.Helper()
		u, err := server.UserByAddress(ctx, bob)
		return read(u.PasswordHash, err)
	}
	alias := func(key string) string {
		t.Helper()
		a, err := server.AliasByKey(ctx, key)
		return read(fmt.Sprint(a.Targets), err)
	}
	check := func(step, got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: the server reads %s, want %s", step, got, want)
		}
	}

	check("before", user(), "none") // a miss is cached as well
	check("before", alias("sales@x.test"), "none")
	check("before", alias("@x.test"), "none")
	if _, err := cli.AddUser(ctx, bob, "h1"); err != nil {
		t.Fatal(err)
	}
	check("user added", user(), "h1")
	check("user added, cached", user(), "h1")
	if err := cli.SetPasswordHash(ctx, bob, "h2"); err != nil {
		t.Fatal(err)
	}
	check("password changed", user(), "h2")
	if err := cli.SetAlias(ctx, "sales@x.test", Alias{Address: "sales@x.test", Targets: []string{"bob@x.test"}}, nil); err != nil {
		t.Fatal(err)
	}
	check("alias set", alias("sales@x.test"), "[bob@x.test]")
	if err := cli.SetAlias(ctx, "@x.test", Alias{Address: "@x.test", Targets: []string{"bob@x.test", "carol@x.test"}}, nil); err != nil {
		t.Fatal(err)
	}
	check("catch-all set", alias("@x.test"), "[bob@x.test carol@x.test]")
	if err := cli.DeleteAlias(ctx, "sales@x.test"); err != nil {
		t.Fatal(err)
	}
	check("alias deleted", alias("sales@x.test"), "none")
	if err := cli.DeleteUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	check("user deleted", user(), "none")
	// The server's own changes count too.
	if _, err := server.AddUser(ctx, bob, "h3"); err != nil {
		t.Fatal(err)
	}
	check("user added by the server", user(), "h3")
}

// TestDirectoryCacheExpires: a change the counter does not see (made with other tools than
// Sealgate's) is read once directoryTTL has passed.
func TestDirectoryCacheExpires(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openWith(t, t.TempDir(), Options{Now: clock})
	if err := s.SetPolicy(ctx, "global", map[string]string{"inbound.encrypt": "pgp"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PolicySettings(ctx); p["global"]["inbound.encrypt"] != "pgp" {
		t.Fatalf("policy %v", p)
	}
	if _, err := s.wdb.Exec(`UPDATE policy_settings SET value = 'smime'`); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PolicySettings(ctx); p["global"]["inbound.encrypt"] != "pgp" {
		t.Fatalf("the cache was bypassed (the test shows nothing): %v", p)
	}
	mu.Lock()
	now = now.Add(directoryTTL)
	mu.Unlock()
	if p, _ := s.PolicySettings(ctx); p["global"]["inbound.encrypt"] != "smime" {
		t.Fatalf("after directoryTTL: %v", p)
	}
}
