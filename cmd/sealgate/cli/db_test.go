package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// postgresDataDir makes a data directory whose sealgate.toml selects the postgres backend on
// dsn.
func postgresDataDir(t *testing.T, dsn string) string {
	t.Helper()
	return dataDir(t, "[storage]\nbackend = \"postgres\"\ndsn = \""+dsn+"\"\n")
}

func TestDBMigrateRefusesEmbedded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	wantError(t, run(t, "", nil, "--data", dir, "db", "migrate"), `backend = "postgres"`)
}

func TestConfigCheckPostgresNeedsDSN(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pg.toml")
	os.WriteFile(f, []byte("[storage]\nbackend = \"postgres\"\n"), 0o600)
	wantError(t, run(t, "", nil, "config", "check", f), "storage.dsn")
	dir := filepath.Join(t.TempDir(), "data")
	wantError(t, run(t, "", nil, "--data", dir, "--config", f, "db", "migrate"), "storage.dsn")
}

// The keyring follows [storage]: with postgres it lives in the database, needs `db migrate`
// first, and two nodes (data directories) given the same master key share it.
func TestKeysOnPostgres(t *testing.T) {
	dsn := gatewaytest.PostgresDSN(t)
	one, two := postgresDataDir(t, dsn), postgresDataDir(t, dsn)
	mk := map[string]string{"SEALGATE_MASTER_KEY_FILE": filepath.Join(t.TempDir(), "master.key")}

	wantError(t, run(t, "", mk, "--data", one, "keys", "list"), "sealgate db migrate")
	for range 2 {
		if r := run(t, "", nil, "--data", one, "db", "migrate"); r.code != 0 {
			t.Fatalf("db migrate: %+v", r)
		}
	}
	if r := run(t, "", mk, "--data", one, "keys", "generate", "alice@localhost", "--pgp"); r.code != 0 {
		t.Fatalf("keys generate: %+v", r)
	}
	r := run(t, "", mk, "--data", two, "keys", "list", "alice@localhost")
	if r.code != 0 || !strings.Contains(r.stdout, "alice@localhost") {
		t.Fatalf("the other node's keys list: %+v", r)
	}
	if r := run(t, "", mk, "--data", two, "keys", "export", "alice@localhost", "--pgp", "--secret"); r.code != 0 ||
		!strings.Contains(r.stdout, "PRIVATE KEY BLOCK") {
		t.Fatalf("the other node cannot unseal the secret key: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(one, "keys.db")); !os.IsNotExist(err) {
		t.Fatalf("a keys.db was made in the data directory: %v", err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM keyring_entries WHERE sealed IS NOT NULL`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sealed keys in the database: %d, %v", n, err)
	}
}

// The administrative commands reach the PostgreSQL store: what one node's CLI changes, the
// other's sees.
func TestAdminCommandsOnPostgres(t *testing.T) {
	dsn := gatewaytest.PostgresDSN(t)
	one, two := postgresDataDir(t, dsn), postgresDataDir(t, dsn)
	wantError(t, run(t, "pw\n", nil, "--data", one, "user", "add", "alice@localhost", "--password-stdin"), "sealgate db migrate")
	if r := run(t, "", nil, "--data", one, "db", "migrate"); r.code != 0 || r.stdout == "" {
		t.Fatalf("db migrate: %+v", r)
	}
	steps := []struct {
		dir   string
		stdin string
		args  []string
		want  string // in stdout
	}{
		{one, "pw\n", []string{"user", "add", "alice@localhost", "--password-stdin"}, ""},
		{two, "", []string{"user", "list"}, "alice@localhost"},
		{two, "", []string{"alias", "add", "team@localhost", "alice@localhost"}, ""},
		{one, "", []string{"alias", "list"}, "team@localhost"},
		{one, "", []string{"policy", "set", "alice@localhost", "inbound.encrypt=pgp"}, ""},
		{two, "", []string{"policy", "show", "alice@localhost"}, "pgp"},
		{two, "", []string{"queue", "list", "--json"}, "[]"},
		{one, "", []string{"check"}, ""},
		{two, "", []string{"user", "delete", "alice@localhost"}, ""},
	}
	for _, s := range steps {
		r := run(t, s.stdin, nil, append([]string{"--data", s.dir}, s.args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, s.want) {
			t.Fatalf("%v: %+v", s.args, r)
		}
	}
	if r := run(t, "", nil, "--data", one, "user", "list"); r.code != 0 || r.stdout != "" {
		t.Fatalf("user list after delete on the other node: %+v", r)
	}
}

// serve refuses a database without this Sealgate's schema.
func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	dir := postgresDataDir(t, gatewaytest.PostgresDSN(t))
	conf, _ := os.ReadFile(filepath.Join(dir, "sealgate.toml"))
	listen := "[listen]\n"
	for _, l := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http"} {
		listen += l + " = \"127.0.0.1:0\"\n"
	}
	writeConfig(t, dir, listen+string(conf))
	done := make(chan result, 1)
	go func() { done <- run(t, "", nil, "--data", dir, "serve") }()
	select {
	case r := <-done:
		wantError(t, r, "sealgate db migrate")
	case <-time.After(time.Minute):
		t.Fatal("serve started on a database without the schema")
	}
}
