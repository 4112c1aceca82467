package mailstore

import (
	"context"
	"testing"
)

// TestPolicyCacheSeesOtherProcess: settings are cached, and a change made through another
// Store on the same directory (the CLI is another process) is seen by the next read.
func TestPolicyCacheSeesOtherProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	server, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

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
