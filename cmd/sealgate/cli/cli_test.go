package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(Env{Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return result{code, out.String(), errb.String()}
}

// wantError checks the error contract: non-zero exit, exactly one line on stderr.
func wantError(t *testing.T, r result, contains string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("exit 0, want failure (stdout %q)", r.stdout)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "sealgate: ") || !strings.Contains(r.stderr, contains) {
		t.Fatalf("stderr %q, want one line containing %q", r.stderr, contains)
	}
}

// dataDir makes a new data directory with conf as its sealgate.toml (none when conf is "").
func dataDir(t *testing.T, conf string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if conf != "" {
		writeConfig(t, dir, conf)
	}
	return dir
}

// writeConfig writes conf as the sealgate.toml of the data directory dir.
func writeConfig(t *testing.T, dir, conf string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "sealgate.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUserCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data", dir}
	if r := run(t, "s3cret\n", nil, append(d, "user", "add", "Alice@LocalHost", "--password-stdin")...); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode: %v %v", fi.Mode().Perm(), err)
	}
	wantError(t, run(t, "x\n", nil, append(d, "user", "add", "alice@localhost", "--password-stdin")...), "already exists")
	wantError(t, run(t, "x\n", nil, append(d, "user", "add", "bob@elsewhere.example", "--password-stdin")...), "not a local domain")
	wantError(t, run(t, "", nil, append(d, "user", "add", "bob@localhost", "--password-stdin")...), "no password")
	wantError(t, run(t, "x\n", nil, append(d, "user", "add", "bob@localhost")...), "--password-stdin")
	wantError(t, run(t, "x\n", nil, append(d, "user", "add", "not-an-address", "--password-stdin")...), "not a valid address")
	wantError(t, run(t, "", nil, append(d, "user", "frobnicate")...), "")
	wantError(t, run(t, "", nil, append(d, "user", "list", "--bogus")...), "unknown flag")

	// SEALGATE_DATA is the default data directory.
	r := run(t, "", map[string]string{"SEALGATE_DATA": dir}, "user", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Alice@localhost\t") {
		t.Fatalf("user list: %+v", r)
	}
	if r := run(t, "n3w\n", nil, append(d, "user", "passwd", "alice@localhost", "--password-stdin")...); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	wantError(t, run(t, "x\n", nil, append(d, "user", "passwd", "nobody@localhost", "--password-stdin")...), "no user")
	if r := run(t, "", nil, append(d, "user", "delete", "alice@localhost")...); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	wantError(t, run(t, "", nil, append(d, "user", "delete", "alice@localhost")...), "no user")
	if r := run(t, "", nil, append(d, "user", "list")...); r.code != 0 || r.stdout != "" {
		t.Fatalf("list after delete: %+v", r)
	}
}

func TestConfigCommands(t *testing.T) {
	r := run(t, "", nil, "config", "example")
	if r.code != 0 || r.stdout != config.Example() {
		t.Fatalf("config example: code %d", r.code)
	}
	good := filepath.Join(t.TempDir(), "good.toml")
	os.WriteFile(good, []byte(r.stdout), 0o600)
	if r := run(t, "", nil, "config", "check", good); r.code != 0 {
		t.Fatalf("check example: %+v", r)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("hostname = \"-bad-\"\n[listen]\nsmpt = \"x\"\nsmtp = \"nope\"\n"), 0o600)
	r = run(t, "", nil, "config", "check", bad)
	wantError(t, r, "listen.smtp")
	for _, want := range []string{"hostname", `"listen.smpt"`} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("check did not report %s: %q", want, r.stderr)
		}
	}
}

// A user added by the CLI while the server runs can receive mail at once.
func TestCLIChangesReachRunningServer(t *testing.T) {
	env := gatewaytest.Start(t)
	c, err := smtp.Dial(env.GW.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Mail("x@example.org", nil)
	if err := c.Rcpt("carol@localhost", nil); err == nil {
		t.Fatal("unknown user accepted")
	}
	if r := run(t, "pw\n", nil, "--data", env.Dir, "user", "add", "carol@localhost", "--password-stdin"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	if err := c.Rcpt("carol@localhost", nil); err != nil {
		t.Fatalf("user added by the CLI is unknown to the running server: %v", err)
	}
	if r := run(t, "", nil, "--data", env.Dir, "user", "delete", "carol@localhost"); r.code != 0 {
		t.Fatalf("user delete: %+v", r)
	}
	c.Reset()
	c.Mail("x@example.org", nil)
	if err := c.Rcpt("carol@localhost", nil); err == nil {
		t.Fatal("deleted user still accepted")
	}
}

func TestPolicyCommands(t *testing.T) {
	d := []string{"--data", filepath.Join(t.TempDir(), "data")}
	if r := run(t, "", nil, append(d, "policy", "set", "global", "pop3.mode=keep", "inbound.encrypt=pgp")...); r.code != 0 {
		t.Fatalf("set global: %+v", r)
	}
	if r := run(t, "", nil, append(d, "policy", "set", "Example.TEST", "pop3.mode=delete")...); r.code != 0 {
		t.Fatalf("set domain: %+v", r)
	}
	r := run(t, "", nil, append(d, "policy", "show", "alice@example.test")...)
	if r.code != 0 {
		t.Fatalf("show: %+v", r)
	}
	for _, want := range []string{"pop3.mode         delete         example.test", "inbound.encrypt   pgp            global", "outbound.scheme   auto           default"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := run(t, "", nil, append(d, "policy", "set", "example.test", "pop3.mode=")...); r.code != 0 {
		t.Fatalf("unset: %+v", r)
	}
	if r := run(t, "", nil, append(d, "policy", "show", "alice@example.test")...); !strings.Contains(r.stdout, "pop3.mode         keep           global") {
		t.Fatalf("after unset:\n%s", r.stdout)
	}
	wantError(t, run(t, "", nil, append(d, "policy", "set", "global", "pop3.mode=sometimes")...), "invalid value")
	wantError(t, run(t, "", nil, append(d, "policy", "set", "global", "no.such=key")...), "unknown key")
	wantError(t, run(t, "", nil, append(d, "policy", "set", "bad_domain!", "pop3.mode=keep")...), "invalid scope")
	wantError(t, run(t, "", nil, append(d, "policy", "set", "global")...), "KEY=VALUE")
}

func TestDKIMCommands(t *testing.T) {
	d := []string{"--data", filepath.Join(t.TempDir(), "data")}
	wantError(t, run(t, "", nil, append(d, "dkim", "show", "example.test")...), "no DKIM key for example.test")
	r := run(t, "", nil, append(d, "dkim", "generate", "example.test", "--selector", "mail")...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "mail._domainkey.example.test. 3600 IN TXT (\n\t\"v=DKIM1; k=rsa; p=") {
		t.Fatalf("generate: %+v", r)
	}
	// The 392-byte RSA-2048 record is two character-strings of at most 255 bytes, which a
	// zone file takes as they are.
	strs := regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(r.stdout, -1)
	if len(strs) != 2 || len(strs[0][1]) != 255 || len(strs[1][1]) > 255 || !strings.HasSuffix(strings.TrimSpace(r.stdout), ")") {
		t.Fatalf("generate: the record is not split into 255-byte strings:\n%s", r.stdout)
	}
	if s := run(t, "", nil, append(d, "dkim", "show", "example.test")...); s.code != 0 || s.stdout != r.stdout {
		t.Fatalf("show %+v, want %q", s, r.stdout)
	}
	wantError(t, run(t, "", nil, append(d, "dkim", "generate", "example.test", "--selector", "mail")...), "exists already")
	wantError(t, run(t, "", nil, append(d, "dkim", "generate", "not a domain")...), "not a domain")
}

// A relay-domain sender is ours (outbound treatment), a relay-domain recipient is inbound.
func TestPolicyExplainRelayDomain(t *testing.T) {
	d := []string{"--data", dataDir(t, "domains = [\"sealgate.test\"]\n[relay.domains]\n\"corp.test\" = \"127.0.0.1:2626\"\n")}
	if r := run(t, "", nil, append(d, "policy", "set", "corp.test", "outbound.sign=pgp")...); r.code != 0 {
		t.Fatalf("policy set: %+v", r)
	}
	r := run(t, "", nil, append(d, "policy", "explain", "--from", "alice@corp.test", "--to", "bob@corp.test", "--to", "x@outside.test")...)
	if r.code != 0 {
		t.Fatalf("explain: %+v", r)
	}
	for _, want := range []string{"sent by the organisation's own mail server", "to bob@corp.test (relay domain)", "to x@outside.test (remote): REJECT: sender alice@corp.test must sign"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// policy explain, golden-tested: keys from testdata/crypto (fixed fingerprints), a policy at
// each scope, local and remote recipients.
func TestPolicyExplainGolden(t *testing.T) {
	dir := dataDir(t, "domains = [\"sealgate.test\"]\n")
	d := []string{"--data", dir}
	cfg, err := config.Load(filepath.Join(dir, "sealgate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	g := &globals{dataDir: dir, env: Env{Getenv: func(string) string { return "" }}}
	kr, err := (&admin{ctx: context.Background(), g: g, cfg: cfg}).Keyring()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []string{"ed25519-pub.asc", "rsa3072-secret.asc"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "crypto", "pgp", f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Admin("test").Import(ctx, data, keys.ImportOptions{}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	kr.Close()
	for _, args := range [][]string{
		{"global", "outbound.encrypt=opportunistic"},
		{"sealgate.test", "inbound.encrypt=pgp"},
		{"rsa@sealgate.test", "outbound.sign=pgp"},
		{"partner.test", "outbound.encrypt=required"},
	} {
		if r := run(t, "", nil, append(append(d, "policy", "set"), args...)...); r.code != 0 {
			t.Fatalf("policy set %v: %+v", args, r)
		}
	}
	check := func(golden string, args ...string) {
		t.Helper()
		r := run(t, "", nil, append(append(d, "policy", "explain"), args...)...)
		if r.code != 0 {
			t.Fatalf("explain: %+v", r)
		}
		path := filepath.Join("testdata", golden)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			os.WriteFile(path, []byte(r.stdout), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(want) {
			t.Fatalf("explain output differs from %s (UPDATE_GOLDEN=1 rewrites it):\n%s", path, r.stdout)
		}
	}
	check("explain-submitted.golden", "--from", "rsa@sealgate.test", "--to", "ed@sealgate.test", "--to", "nokey@sealgate.test",
		"--to", "someone@partner.test", "--to", "ed@elsewhere.test")
	check("explain-inbound-encrypted.golden", "--from", "x@outside.test", "--encrypted", "pgp", "--to", "rsa@sealgate.test", "--to", "ed@sealgate.test")
	wantError(t, run(t, "", nil, append(d, "policy", "explain", "--from", "a@b.test")...), "at least one --to")
	wantError(t, run(t, "", nil, append(d, "policy", "explain", "--from", "a@b.test", "--to", "c@d.test", "--encrypted", "rot13")...), "not pgp or smime")
}

func TestAliasCommands(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("alice@localhost", "pw-alice-1")
	d := []string{"--data", env.Dir}
	if r := run(t, "", nil, append(d, "alias", "add", "Team@LocalHost", "alice@localhost", "friend@elsewhere.test")...); r.code != 0 || r.stdout != "Team@localhost -> alice@localhost, friend@elsewhere.test\n" {
		t.Fatalf("alias add: %+v", r)
	}
	if r := run(t, "", nil, append(d, "alias", "add", "b@localhost", "team@localhost")...); r.code != 0 {
		t.Fatalf("alias add b: %+v", r)
	}
	wantError(t, run(t, "", nil, append(d, "alias", "add", "team@localhost", "b@localhost")...), "alias loop: b@localhost → team@localhost → b@localhost")
	wantError(t, run(t, "", nil, append(d, "alias", "add", "x@elsewhere.test", "alice@localhost")...), "not a local domain")
	wantError(t, run(t, "", nil, append(d, "alias", "add", "x@localhost", "not an address")...), "not a valid address")
	wantError(t, run(t, "", nil, append(d, "alias", "add", "x@localhost")...), "at least one TARGET")
	// A local target must take mail: an account, an alias, postmaster@, a sub-address of an
	// account; an alias naming itself needs an account of that name.
	wantError(t, run(t, "", nil, append(d, "alias", "add", "team2@localhost", "alice@localhost", "nobody@localhost")...), "nobody@localhost is no account, alias or other address that takes mail here")
	wantError(t, run(t, "", nil, append(d, "alias", "add", "solo@localhost", "solo@localhost", "friend@elsewhere.test")...), "solo@localhost names the alias itself but is no account")
	for _, target := range []string{"postmaster@localhost", "alice+x@localhost", "team@localhost"} {
		if r := run(t, "", nil, append(d, "alias", "add", "ok@localhost", target)...); r.code != 0 {
			t.Fatalf("alias to %s: %+v", target, r)
		}
	}
	if r := run(t, "", nil, append(d, "alias", "delete", "ok@localhost")...); r.code != 0 {
		t.Fatalf("alias delete: %+v", r)
	}
	if r := run(t, "", nil, append(d, "alias", "add", "@localhost", "alice@localhost")...); r.code != 0 {
		t.Fatalf("catch-all: %+v", r)
	}
	r := run(t, "", nil, append(d, "alias", "list")...)
	if r.code != 0 || r.stdout != "@localhost -> alice@localhost\nb@localhost -> team@localhost\nTeam@localhost -> alice@localhost, friend@elsewhere.test\n" {
		t.Fatalf("alias list: %q", r.stdout)
	}
	// The running server uses the alias at once.
	c, err := smtp.Dial(env.GW.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("x@outside.test", []string{"b@localhost", "whoever@localhost"}, strings.NewReader("Subject: a\r\n\r\nb\r\n")); err != nil {
		t.Fatal(err)
	}
	if n := len(env.Mailbox("alice@localhost", "INBOX")); n != 1 {
		t.Fatalf("alice got %d messages", n)
	}
	if r := run(t, "", nil, append(d, "alias", "delete", "TEAM@localhost")...); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	wantError(t, run(t, "", nil, append(d, "alias", "delete", "team@localhost")...), "no alias team@localhost")
}
