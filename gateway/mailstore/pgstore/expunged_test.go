package pgstore

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestExpungeTriggerPerStatement: after the migration to schemaV9, removing messages writes
// their tombstones, releases each body once per message (a body
// another mailbox still holds stays, with its count lowered) and deletes the bodies left
// without a reference, with their chunks; and no trigger on messages runs per row, so an
// EXPUNGE costs a fixed number of statements, not three per message.
func TestExpungeTriggerPerStatement(t *testing.T) {
	ctx := context.Background()
	s := upgraded(t, 7, Options{},
		`INSERT INTO users(id, address, address_key, password_hash, created) VALUES (1, 'old@x.test', 'old@x.test', 'h', 1)`,
		`INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, highest_modseq) VALUES (10, 1, 'INBOX', 999, 4, 5), (11, 1, 'Kept', 998, 2, 2)`,
		`INSERT INTO bodies(id, size, header_size, refs) VALUES (1, 1, 1, 2), (2, 1, 1, 1), (3, 1, 1, 1)`,
		`INSERT INTO body_chunks(body_id, seq, data) VALUES (1, 0, 'a'), (2, 0, 'b'), (3, 0, 'c')`,
		`INSERT INTO messages(mailbox_id, uid, body_id, flags, internal_date, size, modseq) VALUES
			(10, 1, 1, 0, 0, 1, 2), (10, 2, 2, 0, 0, 1, 3), (10, 3, 3, 0, 0, 1, 4), (11, 1, 1, 0, 0, 1, 2)`,
	)
	if err := s.Expunge(ctx, 10, []uint32{1, 2}); err != nil {
		t.Fatal(err)
	}
	ch, err := s.ChangesSince(ctx, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ch.Expunged)
	if !slices.Equal(ch.Expunged, []uint32{1, 2}) || ch.HighestModSeq != 6 {
		t.Errorf("tombstones %v, MODSEQ %d, want [1 2], 6", ch.Expunged, ch.HighestModSeq)
	}
	bodies := column[int64](t, s, `SELECT id * 10 + refs FROM bodies ORDER BY id`)
	chunks := column[int64](t, s, `SELECT DISTINCT body_id FROM body_chunks ORDER BY body_id`)
	if !slices.Equal(bodies, []int64{11, 31}) || !slices.Equal(chunks, []int64{1, 3}) {
		t.Errorf("bodies (id*10+refs) %v with chunks %v, want [11 31] and [1 3]", bodies, chunks)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Errorf("check: %v %v", probs, err)
	}
	perRow := column[string](t, s, `SELECT tgname FROM pg_trigger
		WHERE tgrelid = 'messages'::regclass AND NOT tgisinternal AND tgtype & 1 = 1 ORDER BY tgname`)
	if len(perRow) != 0 {
		t.Errorf("row triggers on messages: %v", perRow)
	}
}

// column returns the single column of query q's rows.
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
