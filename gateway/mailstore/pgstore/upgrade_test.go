package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// upgraded opens, with opts, a fresh database that was at schema version with the rows
// inserts add, then migrated to SchemaVersion. The test's cleanup closes the store.
func upgraded(t *testing.T, version int, opts Options, inserts ...string) *Store {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := append(migrations[:version:version],
		`CREATE TABLE schema_version (one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL)`)
	stmts = append(stmts, inserts...)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO schema_version(version) VALUES ($1)`, version); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dsn, opts)
	return storetest.Opened(t, s, err)
}
