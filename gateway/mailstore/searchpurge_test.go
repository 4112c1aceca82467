package mailstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// TestSearchRowOutlivesBody: an expunged message's search row stays until the purge, found by
// no search; a new body that takes the dead row's id is not taken for indexed, and its
// search does not find the old text. The purge then removes the rest.
func TestSearchRowOutlivesBody(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	u := addUser(t, s, "p@x.test")
	deliver := func(body string) {
		t.Helper()
		if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: msgbuf.FromBytes([]byte(body)), Local: []Target{{UserID: u.ID}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	bodies := []string{"Subject: a\r\n\r\nkeep me\r\n", "Subject: b\r\n\r\nold secret text\r\n"}
	for _, b := range bodies {
		deliver(b)
	}
	mb, msgs := inbox(t, s, u)
	var texts []SearchText
	for i, m := range msgs {
		texts = append(texts, SearchText{BodyID: m.BodyID, Header: "Subject: x", Text: bodies[i]})
	}
	if err := s.PutSearchText(ctx, texts); err != nil {
		t.Fatal(err)
	}
	old := msgs[1]
	// Expunge without waking the purge, so the dead row is still there below.
	if err := s.Expunge(ctx, mb.ID, []uint32{old.UID}); err != nil {
		t.Fatal(err)
	}
	var dead int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM imap_search_dead`).Scan(&dead); err != nil || dead != 1 {
		t.Fatalf("dead search rows: %d %v", dead, err)
	}
	if got, _ := s.SearchTextUIDs(ctx, mb.ID, FieldBody, "secret"); len(got) != 0 {
		t.Fatalf("an expunged message found: %v", got)
	}
	// The next body takes the highest id again.
	deliver("Subject: c\r\n\r\nnew text\r\n")
	_, msgs = inbox(t, s, u)
	if msgs[1].BodyID != old.BodyID {
		t.Skipf("the new body got id %d, not the dead row's %d", msgs[1].BodyID, old.BodyID)
	}
	if un, err := s.UnindexedBodies(ctx, mb.ID, 10); err != nil || fmt.Sprint(un) != fmt.Sprint([]int64{old.BodyID}) {
		t.Fatalf("unindexed %v %v, want the new body", un, err)
	}
	if got, _ := s.SearchTextUIDs(ctx, mb.ID, FieldBody, "secret"); len(got) != 0 {
		t.Fatalf("the new message found by the old text: %v", got)
	}
	// The purge removes what is left.
	deliver("Subject: d\r\n\r\nmore\r\n")
	_, msgs = inbox(t, s, u)
	if err := s.Expunge(ctx, mb.ID, []uint32{msgs[0].UID}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.purgeSearch(ctx, purgeBatch); err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	var rows int
	if err := s.rdb.QueryRow(`SELECT (SELECT count(*) FROM imap_search_dead) + (SELECT count(*) FROM imap_search_content WHERE id = ?)`,
		msgs[0].BodyID).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("left after the purge: %d %v", rows, err)
	}
}
