package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONOutput: every list and show command takes --json and prints one JSON array, "[]"
// when there is nothing, with the field names README.md documents.
func TestJSONOutput(t *testing.T) {
	d := []string{"--data", filepath.Join(t.TempDir(), "data")}
	cmds := [][]string{
		{"user", "list"}, {"alias", "list"}, {"keys", "list"}, {"keys", "audit"}, {"keys", "pending"}, {"queue", "list"},
	}
	for _, c := range cmds {
		r := run(t, "", nil, append(append(d, c...), "--json")...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
			t.Fatalf("%v --json on an empty store: %+v, want []", c, r)
		}
	}
	if r := run(t, "", nil, append(d, "dkim", "show", "localhost", "--json")...); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("dkim show --json without a key: %+v, want []", r)
	}

	mustRun(t, "pw\n", append(d, "user", "add", "alice@localhost", "--password-stdin")...)
	mustRun(t, "", append(d, "alias", "add", "info@localhost", "alice@localhost", "bob@example.org")...)
	mustRun(t, "", append(d, "policy", "set", "localhost", "inbound.encrypt=pgp")...)
	mustRun(t, "", append(d, "keys", "generate", "alice@localhost", "--pgp")...)
	mustRun(t, "", append(d, "dkim", "generate", "localhost", "--selector", "s1")...)

	var users []map[string]any
	decode(t, mustRunOut(t, "", append(d, "user", "list", "--json")...), &users)
	if len(users) != 1 || users[0]["address"] != "alice@localhost" || users[0]["created"] == "" {
		t.Fatalf("user list --json: %v", users)
	}
	var aliases []struct {
		Address string   `json:"address"`
		Targets []string `json:"targets"`
	}
	decode(t, mustRunOut(t, "", append(d, "alias", "list", "--json")...), &aliases)
	if len(aliases) != 1 || aliases[0].Address != "info@localhost" || strings.Join(aliases[0].Targets, ",") != "alice@localhost,bob@example.org" {
		t.Fatalf("alias list --json: %+v", aliases)
	}
	var pol []map[string]string
	decode(t, mustRunOut(t, "", append(d, "policy", "show", "alice@localhost", "--json")...), &pol)
	found := false
	for _, p := range pol {
		if p["key"] == "inbound.encrypt" {
			found = p["value"] == "pgp" && p["source"] == "localhost"
		}
	}
	if !found || len(pol) < 5 {
		t.Fatalf("policy show --json: %v", pol)
	}
	var audit []map[string]string
	decode(t, mustRunOut(t, "", append(d, "keys", "audit", "--json")...), &audit)
	if len(audit) == 0 || audit[0]["action"] == "" || audit[0]["fingerprint"] == "" || audit[0]["at"] == "" {
		t.Fatalf("keys audit --json: %v", audit)
	}
	var dk []map[string]any
	decode(t, mustRunOut(t, "", append(d, "dkim", "show", "localhost", "--json")...), &dk)
	if len(dk) != 1 || dk[0]["name"] != "s1._domainkey.localhost" || dk[0]["selector"] != "s1" || dk[0]["active"] != true ||
		!strings.HasPrefix(dk[0]["value"].(string), "v=DKIM1; k=rsa; p=") {
		t.Fatalf("dkim show --json: %v", dk)
	}
}

// TestCommandsValidateAlike: every command that names an account, an alias or a local
// domain refuses a foreign domain and an address literal with the same line.
func TestCommandsValidateAlike(t *testing.T) {
	d := []string{"--data", filepath.Join(t.TempDir(), "data")}
	const notLocal = "sealgate: elsewhere.example is not a local domain (local domains: localhost)\n"
	for _, c := range [][]string{
		{"user", "add", "bob@elsewhere.example", "--password-stdin"},
		{"user", "passwd", "bob@elsewhere.example", "--password-stdin"},
		{"user", "delete", "bob@elsewhere.example"},
		{"user", "quota", "bob@elsewhere.example"},
		{"alias", "add", "bob@elsewhere.example", "alice@localhost"},
		{"alias", "add", "@elsewhere.example", "alice@localhost"},
		{"alias", "delete", "bob@elsewhere.example"},
		{"dns", "records", "elsewhere.example"},
	} {
		if r := run(t, "pw\n", nil, append(d, c...)...); r.code == 0 || r.stderr != notLocal {
			t.Errorf("%v: %+v, want %q", c, r, notLocal)
		}
	}
	for _, c := range [][]string{
		{"user", "passwd", "[127.0.0.1]", "--password-stdin"},
		{"user", "delete", "bob@[127.0.0.1]"},
		{"user", "quota", "bob@[127.0.0.1]"},
		{"alias", "delete", "bob@[127.0.0.1]"},
	} {
		wantError(t, run(t, "pw\n", nil, append(d, c...)...), "not a valid address")
	}
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
}

func mustRunOut(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return mustRun(t, stdin, args...).stdout
}
