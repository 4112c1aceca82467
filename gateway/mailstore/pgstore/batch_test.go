package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore"
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

// TestGenericPlans: the store's connections run prepared statements with generic plans and
// plan no parallel query, and a DSN that names plan_cache_mode keeps it. The FETCH statement
// is planned with parallel query forced wherever the connection allows it (as the generic
// plan's estimate for a UID range did on its own at 1,000,000 messages): it stays serial.
func TestGenericPlans(t *testing.T) {
	s := upgraded(t, len(migrations), Options{})
	if got := column[string](t, s, `SHOW plan_cache_mode`); len(got) != 1 || got[0] != "force_generic_plan" {
		t.Fatalf("plan_cache_mode %v, want force_generic_plan", got)
	}
	ctx := context.Background()
	err := s.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		// debug_parallel_query since PostgreSQL 16, force_parallel_mode before.
		if _, err := c.Exec(ctx, "SET debug_parallel_query = on"); err != nil {
			if _, err := c.Exec(ctx, "SET force_parallel_mode = on"); err != nil {
				return err
			}
		}
		if _, err := c.Exec(ctx, "PREPARE fetch_plan(bigint, bigint, bigint) AS "+
			mailstore.MessagesWithEnvelopesQuery("$1", "$2", "$3")); err != nil {
			return err
		}
		rows, err := c.Query(ctx, "EXPLAIN EXECUTE fetch_plan(1, 1, 50)")
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if plan := strings.Join(lines, "\n"); strings.Contains(plan, "Gather") {
			t.Errorf("the FETCH statement plans a parallel query:\n%s", plan)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

// TestTextSearchCustomPlans: the trigram text search is planned for its pattern, not with
// the generic plan the store's other statements use (what the connection's prepared
// statement counters say after two searches).
func TestTextSearchCustomPlans(t *testing.T) {
	s := upgraded(t, len(migrations), Options{})
	ctx := context.Background()
	for _, needle := range []string{"needle", "haystack"} {
		if _, err := s.SearchTextUIDs(ctx, 1, mailstore.FieldBody, needle); err != nil {
			t.Fatal(err)
		}
	}
	// Every idle connection is asked (and released, even after an error: the pool's Close
	// waits for them).
	var generic, custom int64
	var errs []error
	for _, c := range s.pool.AcquireAllIdle(ctx) {
		var g, cu int64
		err := c.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			FROM pg_prepared_statements
			WHERE statement LIKE '%ILIKE%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&g, &cu)
		c.Release()
		errs = append(errs, err)
		generic, custom = generic+g, custom+cu
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if generic != 0 || custom != 2 {
		t.Errorf("the text search ran with %d generic and %d custom plans, want 0 and 2", generic, custom)
	}
}
