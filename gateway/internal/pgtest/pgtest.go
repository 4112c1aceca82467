// Package pgtest gives each test its own empty PostgreSQL database.
//
// The server is named by SEALGATE_TEST_PG_DSN, a DSN with the right to create and drop
// databases (for example postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable). DSN
// creates a database with a unique name for the calling test and returns a DSN for it; when
// the test ends, every connection to that database is terminated and the database dropped.
//
// When SEALGATE_TEST_PG_DSN is unset the test is skipped with a message naming the variable,
// unless SEALGATE_REQUIRE_PEERS is set (as in CI), in which case the test fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/peertest"
)

// EnvDSN names the environment variable holding the superuser DSN of the test server.
const EnvDSN = "SEALGATE_TEST_PG_DSN"

// DSN returns the DSN of a fresh, empty database created for t and dropped in t.Cleanup.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		peertest.Missing(t, "a PostgreSQL server to test against ("+EnvDSN+" is not set; set it to a superuser DSN, "+
			"e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "sealgate_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvDSN, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() { drop(t, admin, name) })

	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// drop terminates the connections to database name and drops it.
func drop(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: connect to drop %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		t.Errorf("pgtest: terminate connections to %s: %v", name, err)
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

// withDatabase returns admin with its database replaced by name. Both URL and keyword/value
// DSNs are accepted.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// Keyword/value form: a later dbname setting overrides an earlier one.
	return admin + " dbname=" + name, nil
}
