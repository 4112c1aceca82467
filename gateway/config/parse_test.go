package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func parseProblems(t *testing.T, text string) []Problem {
	t.Helper()
	c, err := Parse([]byte(text))
	if err == nil {
		return nil
	}
	if c != nil {
		t.Errorf("Parse returned a Config with an error")
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error %T %v is not a *Problems", err, err)
	}
	return ps.List
}

func TestParseEmptyIsDefault(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse(nil) = %+v, want Default()", c)
	}
	if ps := Default().Validate(); ps != nil {
		t.Errorf("Default().Validate() = %v", ps)
	}
}

func TestParseOverridesDefaults(t *testing.T) {
	c, err := Parse([]byte(`
hostname = "mx.example.test"
domains  = ["Example.TEST", "other.test", "example.test"]
[listen]
smtp = "127.0.0.1:0"
imap = ""
[outbound.routes]
"Partner.Test" = "127.0.0.1:2626"
[storage]
backend = "postgres"
dsn = "postgres://u@h/db"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Hostname = "mx.example.test"
	want.Domains = []string{"example.test", "other.test"}
	want.Listen.SMTP = "127.0.0.1:0"
	want.Listen.IMAP = ""
	want.Outbound.Routes = map[string]string{"partner.test": "127.0.0.1:2626"}
	want.Storage = Storage{Backend: BackendPostgres, DSN: "postgres://u@h/db"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if !c.IsLocalDomain("EXAMPLE.test") || c.IsLocalDomain("partner.test") {
		t.Error("IsLocalDomain is wrong")
	}
}

// TestRoundTrip encodes a changed Config with the TOML encoder and parses it
// back: every type prints in a form it reads.
func TestRoundTrip(t *testing.T) {
	c := Default()
	c.Limits.MaxMessageSize = 10_000_000
	c.Limits.SMTPIdleTimeout.Duration = 90_000_000_000 // 90s
	c.Queue.Lifetime.Duration *= 3
	c.Outbound.Routes["partner.test"] = "[::1]:25"
	c.Auth.PlaintextOnLoopback = true
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		t.Fatal(err)
	}
	back, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("got  %+v\nwant %+v\n%s", back, c, b.String())
	}
}

func TestUnknownKeys(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"[listen]\nsmpt = \"127.0.0.1:25\"", `unknown key "listen.smpt" (did you mean "listen.smtp"?)`},
		{"hostnam = \"x\"", `unknown key "hostnam" (did you mean "hostname"?)`},
		{"[listen]\nSMTP = \"127.0.0.1:25\"", `unknown key "listen.SMTP" (did you mean "listen.smtp"?)`},
		{"[frobnicate]\na = 1\nb = 2", `unknown key "frobnicate"`},
		{"[queue.sub]\na = 1", `unknown key "queue.sub"`},
	} {
		ps := parseProblems(t, tt.in)
		if len(ps) != 1 || ps[0].String() != tt.want {
			t.Errorf("%q: problems %v, want exactly %q", tt.in, ps, tt.want)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	ps := parseProblems(t, "hostname = \"x\"\n\n[listen\nsmtp = 1\n")
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Message, "line 3, column ") {
		t.Errorf("problems %v, want one syntax error on line 3", ps)
	}
}

func TestWrongTypes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"hostname = 5", "hostname: must be a string, not an integer"},
		{"domains = \"example.test\"", "domains: must be an array of strings, not a string"},
		{"domains = [1]", "domains: every element must be a string"},
		{"listen = 5", "listen: must be a table, not an integer"},
		{"[auth]\nplaintext_on_loopback = \"yes\"", "auth.plaintext_on_loopback: must be true or false, not a string"},
		{"[limits]\nmax_recipients = \"10\"", "limits.max_recipients: must be an integer, not a string"},
		{"[outbound]\nroutes = 5", "outbound.routes: must be a table, not an integer"},
		{"[outbound.routes]\n\"a.test\" = 25", "outbound.routes: every value must be a string"},
	} {
		ps := parseProblems(t, tt.in)
		if len(ps) != 1 || ps[0].String() != tt.want {
			t.Errorf("%q: problems %v, want exactly %q", tt.in, ps, tt.want)
		}
	}
}

// TestEveryProblem checks that Parse reports all problems, in one line.
func TestEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`
hostname = "bad_host"
[listen]
smtp = "abc"
smpt = "x"
[queue]
lifetime = "-1h"
min_backoff = "1x"
[log]
level = "loud"
`))
	want := `hostname: "bad_host" is not a valid DNS name: character '_' not allowed; ` +
		`queue.lifetime: "-1h" is not a duration: negative durations are not allowed; ` +
		`queue.min_backoff: "1x" is not a duration: want a Go duration like "90m" or "1h30m", optionally after days like "5d" or "1d12h"; ` +
		`unknown key "listen.smpt" (did you mean "listen.smtp"?); ` +
		`listen.smtp: "abc" is not host:port; ` +
		`log.level: "loud" is not "debug", "info", "warn" or "error"`
	if err == nil {
		t.Fatal("no error")
	}
	// Decoding problems come first, then unknown keys, then Validate's.
	got := err.Error()
	if strings.Contains(got, "\n") {
		t.Errorf("error has more than one line: %q", got)
	}
	for _, part := range strings.Split(want, "; ") {
		if !strings.Contains(got, part) {
			t.Errorf("error %q\nlacks %q", got, part)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}

	cert, key := writeCert(t, dir)
	path := filepath.Join(dir, "sealgate.toml")
	text := "[tls]\ncert = \"" + filepath.Base(cert) + "\"\nkey = \"" + filepath.Base(key) + "\"\n" +
		"[keys]\nmaster_key_file = \"keys/master.key\"\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // relative paths must not depend on the working directory
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Cert != cert || c.TLS.Key != key || c.Keys.MasterKeyFile != filepath.Join(dir, "keys/master.key") {
		t.Errorf("paths not made relative to the file: %+v %+v", c.TLS, c.Keys)
	}
	if got := c.Keys.MasterKeyPath("/data"); got != c.Keys.MasterKeyFile {
		t.Errorf("MasterKeyPath = %q", got)
	}
	if got := Default().Keys.MasterKeyPath("/data"); got != "/data/master.key" {
		t.Errorf("default MasterKeyPath = %q", got)
	}

	if err := os.WriteFile(path, []byte("hostname = \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var ps *Problems
	if !errors.As(err, &ps) || ps.File != path || !strings.HasPrefix(err.Error(), path+": hostname: ") {
		t.Errorf("Load(bad) = %v, want a *Problems naming the file", err)
	}
}
