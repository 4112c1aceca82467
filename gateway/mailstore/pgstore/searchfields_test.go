package pgstore

import (
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// TestSearchFieldsFilled: a database migrated from version 7, whose bodies were indexed
// without their header fields kept apart (their rows removed here), reports those messages as
// unknown, and FillSearchFields stores their fields from the index's header text.
func TestSearchFieldsFilled(t *testing.T) {
	s := upgraded(t, 7, Options{})
	storetest.SearchFieldsFilled(t, s, func(ids ...int64) {
		if _, err := s.pool.Exec(t.Context(), `DELETE FROM imap_search_fields WHERE body_id = ANY($1)`, ids); err != nil {
			t.Fatal(err)
		}
	})
}
