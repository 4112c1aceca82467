package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/internal/pgtest"
)

// TestBatchRetriedAfterDeadlock: a batch that loses a deadlock is sent again and succeeds.
// pgx deallocates the prepared statements of a failed batch and remembers them on the
// Batch itself, so the retry must not resend the same Batch: it would name statements the
// server no longer has (SQLSTATE 26000), which is what two nodes' indexers writing the same
// bodies met.
func TestBatchRetriedAfterDeadlock(t *testing.T) {
	s := upgraded(t, len(migrations), Options{},
		`CREATE SEQUENCE lose_once_seq`,
		`CREATE FUNCTION lose_once(n int) RETURNS int LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('lose_once_seq') = 1 THEN
				RAISE EXCEPTION 'deadlock, as if' USING ERRCODE = '40P01';
			END IF;
			RETURN n;
		END $$`,
		`CREATE TABLE batch_rows (n int)`)
	ctx := context.Background()
	bt := &pgx.Batch{}
	bt.Queue(`INSERT INTO batch_rows VALUES ($1)`, 1)
	bt.Queue(`SELECT lose_once($1)`, 2)
	bt.Queue(`INSERT INTO batch_rows VALUES ($1)`, 3)
	if err := s.batch(ctx, bt, execAll(bt.Len())); err != nil {
		t.Fatalf("batch after a lost deadlock: %v", err)
	}
	if got := column[int32](t, s, `SELECT n FROM batch_rows ORDER BY n`); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("rows %v, want [1 3] once", got)
	}
}

// column reads the one column of q's rows.
func column[T any](t *testing.T, s *Store, q string) []T {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestGenericPlans: the store's connections run prepared statements with generic plans, and
// a DSN that names plan_cache_mode keeps it.
func TestGenericPlans(t *testing.T) {
	s := upgraded(t, len(migrations), Options{})
	if got := column[string](t, s, `SHOW plan_cache_mode`); len(got) != 1 || got[0] != "force_generic_plan" {
		t.Fatalf("plan_cache_mode %v, want force_generic_plan", got)
	}
	dsn := pgtest.DSN(t)
	if err := Migrate(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	own, err := Open(context.Background(), dsn+"&plan_cache_mode=auto", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if got := column[string](t, own, `SHOW plan_cache_mode`); len(got) != 1 || got[0] != "auto" {
		t.Fatalf("plan_cache_mode %v with the DSN's auto", got)
	}
}
