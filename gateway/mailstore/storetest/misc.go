package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

func testAliases(t *testing.T, s Store) {
	ctx := t.Context()
	if err := s.SetAlias(ctx, "sales@x.test", mailstore.Alias{Address: "Sales@x.test", Targets: []string{"a@x.test", "b@x.test"}}, nil); err != nil {
		t.Fatal(err)
	}
	a, err := s.AliasByKey(ctx, "sales@x.test")
	if err != nil || a.Address != "Sales@x.test" || fmt.Sprint(a.Targets) != "[a@x.test b@x.test]" {
		t.Fatalf("alias %+v %v", a, err)
	}
	refuse := errors.New("loop")
	var seen map[string]mailstore.Alias
	err = s.SetAlias(ctx, "@x.test", mailstore.Alias{Address: "@x.test", Targets: []string{"sales@x.test"}}, func(all map[string]mailstore.Alias) error {
		seen = all
		return refuse
	})
	if !errors.Is(err, refuse) || len(seen) != 2 || seen["@x.test"].Targets[0] != "sales@x.test" {
		t.Fatalf("check: %v, saw %v", err, seen)
	}
	if _, err := s.AliasByKey(ctx, "@x.test"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("a refused alias was stored: %v", err)
	}
	if err := s.SetAlias(ctx, "sales@x.test", mailstore.Alias{Address: "sales@x.test", Targets: []string{"c@x.test"}}, func(map[string]mailstore.Alias) error { return nil }); err != nil {
		t.Fatal(err)
	}
	all, err := s.Aliases(ctx)
	if err != nil || len(all) != 1 || fmt.Sprint(all["sales@x.test"].Targets) != "[c@x.test]" {
		t.Fatalf("aliases %v %v", all, err)
	}
	if err := s.DeleteAlias(ctx, "sales@x.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlias(ctx, "sales@x.test"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func testPolicy(t *testing.T, s Store) {
	ctx := t.Context()
	p, err := s.PolicySettings(ctx)
	if err != nil || len(p) != 0 {
		t.Fatalf("fresh policy %v %v", p, err)
	}
	if err := s.SetPolicy(ctx, "global", map[string]string{"inbound.encrypt": "pgp", "outbound.sign": "yes"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicy(ctx, "bob@x.test", map[string]string{"inbound.encrypt": "smime"}); err != nil {
		t.Fatal(err)
	}
	p1, _ := s.PolicySettings(ctx)
	if fmt.Sprint(p1) != "map[bob@x.test:map[inbound.encrypt:smime] global:map[inbound.encrypt:pgp outbound.sign:yes]]" {
		t.Fatalf("policy %v", p1)
	}
	// Unchanged settings come from the cache: the same map.
	p2, _ := s.PolicySettings(ctx)
	if fmt.Sprintf("%p", p1) != fmt.Sprintf("%p", p2) {
		t.Fatal("unchanged settings were read again")
	}
	if err := s.SetPolicy(ctx, "global", map[string]string{"outbound.sign": ""}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PolicySettings(ctx); fmt.Sprint(p["global"]) != "map[inbound.encrypt:pgp]" {
		t.Fatalf("after removing a key: %v", p)
	}
}

func testCheck(t *testing.T, s Store) {
	ctx := t.Context()
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("an empty store: %v %v", probs, err)
	}
	u := addUser(t, s, "chk@x.test")
	big, _ := bigBody(t, mailstore.InlineLimit+100)
	if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{
		{Body: big, Local: []mailstore.Target{{UserID: u.ID}}},
	}}); err != nil {
		t.Fatal(err)
	}
	spool(t, s, "chk@x.test", []mailstore.Target{{UserID: u.ID, Mailbox: "Sent"}}, "r@remote.test")
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("a healthy store: %v %v", probs, err)
	}
}
