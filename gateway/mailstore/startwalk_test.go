package mailstore

import (
	"strings"
	"testing"
)

// TestStartWalksNarrowTable: the queries that walk every indexed body or every message of a
// mailbox to ask whether it is indexed (at each start of the indexer, at the first search of
// a mailbox) read FTS5's narrow docsize table, never the content table, which holds every
// body's text (gigabytes at 1,000,000 messages): the walks over the index start from docsize,
// and the walks over messages look bodies up in it.
func TestStartWalksNarrowTable(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := func(q string, args ...any) string {
		rows, err := s.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		return strings.Join(steps, "; ")
	}
	for name, q := range map[string]string{"HeadersWithoutEnvelope": headersWithoutEnvelopeQuery, "FillSearchFields": fieldsMissingQuery} {
		if p := plan(q, 0, 0); !strings.HasPrefix(p, "SCAN d") && !strings.HasPrefix(p, "SEARCH d ") || strings.Contains(p, "SCAN s") {
			t.Errorf("%s: plan %q, want a walk of imap_search_docsize", name, p)
		}
	}
	for name, q := range map[string]struct {
		q    string
		args []any
	}{
		"UnindexedBodies of a mailbox": {unindexedInMailboxQuery, []any{1, 1}},
		"UnindexedBodies":              {unindexedQuery, []any{1}},
		"UnindexedSince":               {unindexedSinceQuery, []any{1, 0, 1}},
	} {
		if p := plan(q.q, q.args...); !strings.Contains(p, "imap_search_docsize") || strings.Contains(p, "imap_search_content") {
			t.Errorf("%s: plan %q, want look-ups in imap_search_docsize", name, p)
		}
	}
}
