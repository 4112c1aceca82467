package mailstore_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// TestSearchFieldsFilled: bodies indexed by a version that did not keep their header fields
// apart (their rows removed behind the store's back) are reported as unknown, and
// FillSearchFields stores their fields from the index's header text.
func TestSearchFieldsFilled(t *testing.T) {
	dir := t.TempDir()
	s := openIn(t, dir, mailstore.Options{})
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mail.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.SearchFieldsFilled(t, s, func(ids ...int64) {
		for _, id := range ids {
			if _, err := db.Exec(`DELETE FROM imap_search_fields WHERE id = ?`, id); err != nil {
				t.Fatal(err)
			}
		}
	})
}
