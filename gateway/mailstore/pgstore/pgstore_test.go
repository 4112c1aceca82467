package pgstore_test

import (
	"context"
	"testing"

	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// newDB returns the DSN of a fresh database with the schema.
func newDB(t testing.TB) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	if err := pgstore.Migrate(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// openNode opens a Store on dsn, closed when the test ends.
func openNode(t testing.TB, dsn string, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts)
	return storetest.Opened(t, s, err)
}

// TestConformance runs the shared mail store suite against PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts mailstore.Options) storetest.Store {
		return openNode(t, newDB(t), pgstore.Options{Now: opts.Now, OnCommit: opts.OnCommit, DefaultQuota: opts.DefaultQuota})
	})
}
