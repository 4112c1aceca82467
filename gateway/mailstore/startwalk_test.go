package mailstore

import (
	"strings"
	"testing"
)

// TestStartWalksNarrowTable: the queries the indexer runs at every start to find indexed
// bodies that lack an envelope or kept header fields walk FTS5's narrow docsize table, never
// the content table, which holds every body's text (gigabytes at 1,000,000 messages).
func TestStartWalksNarrowTable(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, q := range map[string]string{"HeadersWithoutEnvelope": headersWithoutEnvelopeQuery, "FillSearchFields": fieldsMissingQuery} {
		rows, err := s.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if !strings.HasPrefix(text, "SCAN d") && !strings.HasPrefix(text, "SEARCH d ") || strings.Contains(text, "SCAN s") {
			t.Errorf("%s: plan %q, want a scan of imap_search_docsize only", name, text)
		}
	}
}
