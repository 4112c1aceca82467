package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/keys"
)

func keysFixture(name string) string {
	return filepath.Join("..", "..", "..", "testdata", "keys", name)
}

var fprRE = regexp.MustCompile(`\b[0-9A-F]{40}(?:[0-9A-F]{24})?\b`)

func mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := run(t, stdin, nil, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("sealgate %v: %+v", args, r)
	}
	return r
}

func listJSON(t *testing.T, d []string, args ...string) []map[string]any {
	t.Helper()
	r := mustRun(t, "", append(append(d, "keys", "list", "--json"), args...)...)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("keys list --json: %v\n%s", err, r.stdout)
	}
	return rows
}

func TestKeysCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data", dir}
	if rows := listJSON(t, d); len(rows) != 0 {
		t.Fatalf("empty keyring lists %v", rows)
	}
	if r := mustRun(t, "", append(d, "keys", "list", "--json")...); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty list: %q", r.stdout)
	}

	r := mustRun(t, "", append(d, "keys", "generate", "alice@example.test", "--pgp")...)
	pgpFpr := fprRE.FindString(r.stdout)
	if len(pgpFpr) != 40 {
		t.Fatalf("generate --pgp: %q", r.stdout)
	}
	r = mustRun(t, "", append(d, "keys", "generate", "alice@example.test", "--pgp", "--algo", "rsa3072", "--v6")...)
	if v6 := fprRE.FindString(r.stdout); len(v6) != 64 {
		t.Fatalf("generate --v6: %q", r.stdout)
	}
	r = mustRun(t, "", append(d, "keys", "generate", "alice@example.test", "--smime")...)
	smimeFpr := fprRE.FindString(r.stdout)
	mustRun(t, "", append(d, "keys", "import", "--passphrase-file", keysFixture("passphrase.txt"), keysFixture("gpg-ed-secret-pass.asc"))...)
	mustRun(t, "", append(d, "keys", "import", "--passphrase-file", keysFixture("p12pass.txt"), keysFixture("rsa.p12"))...)
	mustRun(t, "", append(d, "keys", "import", "--trust", keysFixture("ca.pem"))...)

	rows := listJSON(t, d)
	if len(rows) != 7 { // 2 pgp + 1 smime for alice, built-in ca, ed pgp, rsa smime, test ca
		t.Fatalf("list: %d rows\n%v", len(rows), rows)
	}
	for _, row := range rows {
		keysOf := make([]string, 0, len(row))
		for k := range row {
			keysOf = append(keysOf, k)
		}
		for _, k := range []string{"address", "scheme", "fingerprint", "secret", "trust", "state", "created", "expires"} {
			if !slices.Contains(keysOf, k) {
				t.Fatalf("row lacks %q: %v", k, row)
			}
		}
		if _, err := time.Parse(time.RFC3339, row["created"].(string)); err != nil {
			t.Fatalf("created: %v", row["created"])
		}
		if e, ok := row["expires"].(string); ok {
			if _, err := time.Parse(time.RFC3339, e); err != nil {
				t.Fatalf("expires: %v", e)
			}
		} else if row["expires"] != nil {
			t.Fatalf("expires is neither RFC 3339 nor null: %v", row["expires"])
		}
		if row["fingerprint"] == pgpFpr && (row["expires"] != nil || row["secret"] != true || row["trust"] != "verified" ||
			row["state"] != "valid" || row["scheme"] != "pgp" || row["address"] != "alice@example.test") {
			t.Fatalf("generated pgp row: %v", row)
		}
	}
	schemes := map[string]int{}
	for _, row := range rows {
		schemes[row["scheme"].(string)]++
	}
	if schemes["pgp"] != 3 || schemes["smime"] != 2 || schemes["ca"] != 2 {
		t.Fatalf("schemes: %v", schemes)
	}
	if rows := listJSON(t, d, "Alice+x@EXAMPLE.test"); len(rows) != 3 {
		t.Fatalf("list ADDRESS: %v", rows)
	}
	r = mustRun(t, "", append(d, "keys", "list")...)
	if !strings.HasPrefix(r.stdout, "ADDRESS") || !strings.Contains(r.stdout, pgpFpr) || !strings.Contains(r.stdout, smimeFpr) {
		t.Fatalf("table: %s", r.stdout)
	}

	r = mustRun(t, "", append(d, "keys", "export", "alice@example.test", "--pgp")...)
	if !strings.HasPrefix(r.stdout, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Fatalf("export --pgp: %.50q", r.stdout)
	}
	r = mustRun(t, "", append(d, "keys", "export", "ed@keys.test", "--pgp", "--secret")...)
	if !strings.HasPrefix(r.stdout, "-----BEGIN PGP PRIVATE KEY BLOCK-----") {
		t.Fatalf("export --pgp --secret: %.50q", r.stdout)
	}
	r = mustRun(t, "", append(d, "keys", "export", "alice@example.test", "--smime")...)
	if !strings.HasPrefix(r.stdout, "-----BEGIN CERTIFICATE-----") || strings.Count(r.stdout, "BEGIN") != 1 {
		t.Fatalf("export --smime: %.50q", r.stdout)
	}
	r = mustRun(t, "", append(d, "keys", "export", "alice@example.test", "--smime", "--secret")...)
	if !strings.HasPrefix(r.stdout, "-----BEGIN PRIVATE KEY-----") || !strings.Contains(r.stdout, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("export --smime --secret: %.50q", r.stdout)
	}
	r = mustRun(t, "", append(d, "keys", "export", "--ca")...)
	if !strings.HasPrefix(r.stdout, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("export --ca: %.50q", r.stdout)
	}

	mustRun(t, "", append(d, "keys", "revoke", pgpFpr)...)
	for _, row := range listJSON(t, d, "alice@example.test") {
		if row["fingerprint"] == pgpFpr && row["state"] != "revoked" {
			t.Fatalf("after revoke: %v", row)
		}
	}
	mustRun(t, "", append(d, "keys", "delete", strings.ToLower(smimeFpr))...)
	if rows := listJSON(t, d, "alice@example.test"); len(rows) != 2 {
		t.Fatalf("after delete: %v", rows)
	}
	r = mustRun(t, "", append(d, "keys", "audit")...)
	for _, want := range []string{"\tgenerate\t" + pgpFpr, "\trevoke\t" + pgpFpr, "\tdelete\t" + smimeFpr, "\texport-secret\t", "\timport\t"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("audit lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "\tcli\t") {
		t.Fatalf("audit actor: %s", r.stdout)
	}

	// Errors: one line, non-zero exit, nothing changed.
	before := listJSON(t, d)
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("\x99 random bytes that are not a key at all"), 0o600)
	pub, _ := os.ReadFile(keysFixture("gpg-rsa-pub.asc"))
	trunc := filepath.Join(t.TempDir(), "trunc.asc")
	os.WriteFile(trunc, pub[:len(pub)/2], 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "import", junk}, "not a usable OpenPGP key"},
		{[]string{"keys", "import", trunc}, "truncated"},
		{[]string{"keys", "import", keysFixture("gpg-expired-pub.asc")}, "expired"},
		{[]string{"keys", "import", keysFixture("noemail.pem")}, "--address"},
		{[]string{"keys", "import", keysFixture("gpg-ed-secret-pass.asc")}, "--passphrase-file"},
		{[]string{"keys", "import", keysFixture("rsa.p12")}, "passphrase"},
		{[]string{"keys", "import", "/nonexistent/file"}, "no such file"},
		{[]string{"keys", "import"}, "FILE"},
		{[]string{"keys", "generate", "x@example.test"}, "--pgp"},
		{[]string{"keys", "generate", "x@example.test", "--pgp", "--algo", "dsa"}, "unknown algorithm"},
		{[]string{"keys", "generate", "not-an-address", "--smime"}, "not a valid address"},
		{[]string{"keys", "export", "nobody@example.test", "--pgp"}, "no OpenPGP key for nobody@example.test"},
		{[]string{"keys", "export", "alice@example.test"}, "--pgp"},
		{[]string{"keys", "revoke", pgpFpr}, "already revoked"},
		{[]string{"keys", "revoke", otherFingerprint(pgpFpr)}, "no key or certificate with fingerprint"},
		{[]string{"keys", "delete", "xyz"}, "not a fingerprint"},
		{[]string{"keys", "trust", pgpFpr, "maybe"}, "unknown trust level"},
		{[]string{"keys", "frobnicate"}, "unknown command"},
	} {
		wantError(t, run(t, "", nil, append(d, c.args...)...), c.want)
	}
	if after := listJSON(t, d); len(after) != len(before) {
		t.Fatalf("a refused command changed the keyring: %d -> %d rows", len(before), len(after))
	}
	// --allow-expired and --address are the ways through.
	mustRun(t, "", append(d, "keys", "import", "--allow-expired", keysFixture("gpg-expired-pub.asc"))...)
	mustRun(t, "", append(d, "keys", "import", "--address", "noemail@example.test", keysFixture("noemail.pem"))...)
	if rows := listJSON(t, d, "old@keys.test"); len(rows) != 1 || rows[0]["state"] != "expired" {
		t.Fatalf("expired key: %v", rows)
	}
}

// A key generated by the CLI while the server runs is served by WKD at once; gpg imports the
// served key with the right fingerprint.
func TestKeysCLIWithRunningServerWKD(t *testing.T) {
	env := gatewaytest.Start(t)
	base := "http://" + env.GW.Addr("http")
	get := func(host, path string) (int, []byte) {
		code, _, body := wiretest.Get(t, nil, base+path, host)
		return code, body
	}
	hu := "/.well-known/openpgpkey/example.test/hu/" + keys.WKDHash("carol") + "?l=carol"
	if code, _ := get("openpgpkey.example.test", hu); code != 404 {
		t.Fatalf("before the key exists: %d", code)
	}
	if code, _ := get("example.test", "/.well-known/openpgpkey/policy"); code != 200 {
		t.Fatalf("policy: %d", code)
	}
	r := mustRun(t, "", "--data", env.Dir, "keys", "generate", "carol@example.test", "--pgp")
	fpr := fprRE.FindString(r.stdout)
	code, body := get("openpgpkey.example.test", hu)
	if code != 200 {
		t.Fatalf("advanced WKD: %d %s", code, body)
	}
	code, direct := get("example.test", "/.well-known/openpgpkey/hu/"+keys.WKDHash("carol")+"?l=carol")
	if code != 200 || string(direct) != string(body) {
		t.Fatalf("direct WKD: %d", code)
	}

	g := peertest.NewGPG(t)
	g.MustRun(body, "--import")
	if out := g.MustRun(nil, "--with-colons", "--list-keys", "carol@example.test"); !strings.Contains(string(out), "fpr:::::::::"+fpr+":") {
		t.Fatalf("gpg sees %s, want %s", out, fpr)
	}

	// A revocation by the CLI takes effect in the running server too.
	mustRun(t, "", "--data", env.Dir, "keys", "revoke", fpr)
	if code, _ := get("openpgpkey.example.test", hu); code != 404 {
		t.Fatalf("revoked key still served: %d", code)
	}
}

// keys export --smime --secret --pkcs12 writes a PKCS#12 file that OpenSSL opens with the
// passphrase from --passphrase-file, and that imports again; wrong combinations are refused.
func TestKeysExportPKCS12(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data", dir}
	r := mustRun(t, "", append(d, "keys", "generate", "p12@example.test", "--smime")...)
	fpr := regexp.MustCompile(`\b[0-9A-F]{64}\b`).FindString(r.stdout)
	pass := filepath.Join(t.TempDir(), "pass.txt")
	os.WriteFile(pass, []byte("cli secret\n"), 0o600)
	for _, cipher := range []string{"", "aes256"} {
		args := append(d, "keys", "export", "p12@example.test", "--smime", "--secret", "--pkcs12", "--passphrase-file", pass)
		if cipher != "" {
			args = append(args, "--pkcs12-cipher", cipher)
		}
		r = mustRun(t, "", args...)
		f := filepath.Join(t.TempDir(), "out.p12")
		os.WriteFile(f, []byte(r.stdout), 0o600)
		if _, err := exec.LookPath("openssl"); err == nil {
			if out, err := exec.Command("openssl", "pkcs12", "-in", f, "-passin", "pass:cli secret", "-nokeys", "-clcerts").CombinedOutput(); err != nil || !strings.Contains(string(out), "BEGIN CERTIFICATE") {
				t.Fatalf("openssl pkcs12 (%q): %v\n%s", cipher, err, out)
			}
		}
		other := []string{"--data", filepath.Join(t.TempDir(), "data")}
		r = mustRun(t, "", append(other, "keys", "import", "--passphrase-file", pass, f)...)
		if !strings.Contains(r.stdout, fpr+" with secret key") {
			t.Fatalf("re-import: %q (want %s)", r.stdout, fpr)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "export", "p12@example.test", "--smime", "--pkcs12"}, "--pkcs12 needs --smime --secret"},
		{[]string{"keys", "export", "p12@example.test", "--smime", "--secret", "--passphrase-file", pass}, "go with --pkcs12"},
		{[]string{"keys", "export", "p12@example.test", "--smime", "--secret", "--pkcs12", "--pkcs12-cipher", "rc2"}, "want 3des or aes256"},
	} {
		wantError(t, run(t, "", nil, append(d, c.args...)...), c.want)
	}
}

// otherFingerprint is a fingerprint of fpr's form that differs from it in its first digits.
func otherFingerprint(fpr string) string {
	if strings.HasPrefix(fpr, "00") {
		return "11" + fpr[2:]
	}
	return "00" + fpr[2:]
}
