package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

func testSearch(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, mailstore.Options{})
	u, mb := threeMessages(t, s, "se@x.test")
	msgs, _ := s.Messages(ctx, mb.ID)
	un, err := s.UnindexedBodies(ctx, mb.ID, 10)
	if err != nil || len(un) != 3 {
		t.Fatalf("unindexed %v %v", un, err)
	}
	if all, _ := s.UnindexedBodies(ctx, 0, 10); len(all) != 3 {
		t.Fatalf("unindexed in every mailbox: %v", all)
	}
	texts := []mailstore.SearchText{
		{BodyID: msgs[0].BodyID, Header: "Subject: Quarterly Report", Text: "The numbers are GREAT this year", RawHeader: []byte("Subject: Quarterly Report\r\n\r\n")},
		{BodyID: msgs[1].BodyID, Header: "Subject: lunch", Text: "Pizza? 100% sure_thing", RawHeader: []byte("Subject: lunch\r\n\r\n")},
		{BodyID: 987654321, Header: "gone", Text: "gone"}, // a body deleted meanwhile: skipped
	}
	if err := s.PutSearchText(ctx, texts); err != nil {
		t.Fatal(err)
	}
	ids, last, err := s.UnindexedSince(ctx, mb.ID, 0, 10)
	if err != nil || fmt.Sprint(ids) != fmt.Sprint([]int64{msgs[2].BodyID}) || last != 3 {
		t.Fatalf("unindexed since 0: %v %d %v", ids, last, err)
	}
	if ids, last, _ := s.UnindexedSince(ctx, mb.ID, 3, 10); len(ids) != 0 || last != 3 {
		t.Fatalf("unindexed since 3: %v %d", ids, last)
	}
	if ids, last, _ := s.UnindexedSince(ctx, mb.ID, 0, 1); len(ids) != 0 || last != 1 {
		t.Fatalf("unindexed since 0, one message: %v %d", ids, last)
	}
	cases := []struct {
		field  mailstore.TextField
		needle string
		want   string
	}{
		{mailstore.FieldBody, "great", "map[1:true]"},
		{mailstore.FieldBody, "NUMBERS ARE", "map[1:true]"},
		{mailstore.FieldBody, "quarterly", "map[]"},
		{mailstore.FieldText, "quarterly", "map[1:true]"},
		{mailstore.FieldText, "Subject", "map[1:true 2:true]"},
		{mailstore.FieldBody, "100%", "map[2:true]"},
		{mailstore.FieldBody, "0% s", "map[2:true]"},
		{mailstore.FieldBody, "e_t", "map[2:true]"},
		{mailstore.FieldBody, "%", "map[2:true]"},
		{mailstore.FieldBody, "_", "map[2:true]"},
		{mailstore.FieldBody, "qq", "map[]"},
		{mailstore.FieldBody, "pi", "map[2:true]"},
		{mailstore.FieldText, "lu", "map[2:true]"},
		{mailstore.FieldBody, "lu", "map[]"},
		{mailstore.FieldBody, "nothing like this", "map[]"},
		{mailstore.FieldHeader, "quarterly", "map[1:true]"},
		{mailstore.FieldHeader, "QUARTERLY REP", "map[1:true]"},
		{mailstore.FieldHeader, "great", "map[]"},
		{mailstore.FieldHeader, "lu", "map[2:true]"},
		{mailstore.FieldHeader, "pi", "map[]"},
	}
	for _, c := range cases {
		got, err := s.SearchTextUIDs(ctx, mb.ID, c.field, c.needle)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("search %d %q: %v %v, want %s", c.field, c.needle, got, err, c.want)
		}
	}
	// A message copied elsewhere is found there too: the index belongs to the body.
	archive, _ := s.MailboxByName(ctx, u.ID, "Archive")
	if _, err := s.CopyMessages(ctx, mb.ID, archive.ID, []uint32{1}, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SearchTextUIDs(ctx, archive.ID, mailstore.FieldBody, "great"); fmt.Sprint(got) != "map[1:true]" {
		t.Fatalf("search in the copy: %v", got)
	}
	hs, err := s.SearchHeaders(ctx, mb.ID, 1, 3)
	if err != nil || len(hs) != 2 || hs[2] != "Subject: lunch" {
		t.Fatalf("headers %v %v", hs, err)
	}
	if hs, err := s.SearchHeaders(ctx, mb.ID, 2, 2); err != nil || len(hs) != 1 || hs[2] != "Subject: lunch" {
		t.Fatalf("headers of UID 2 only: %v %v", hs, err)
	}
	raw, err := s.RawHeaders(ctx, mb.ID, 2, 3)
	if err != nil || len(raw) != 1 || string(raw[2]) != "Subject: lunch\r\n\r\n" {
		t.Fatalf("raw headers %v %v", raw, err)
	}
	// Re-indexing replaces the text.
	if err := s.PutSearchText(ctx, []mailstore.SearchText{{BodyID: msgs[0].BodyID, Header: "h", Text: "replaced text"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SearchTextUIDs(ctx, mb.ID, mailstore.FieldBody, "great"); len(got) != 0 {
		t.Fatalf("old text still found: %v", got)
	}
	if got, _ := s.SearchTextUIDs(ctx, mb.ID, mailstore.FieldBody, "replaced"); fmt.Sprint(got) != "map[1:true]" {
		t.Fatalf("new text not found: %v", got)
	}
}

// testSearchLargeBatch stores more search texts in one call than one statement takes, with a
// body given twice: every text is found, and the later of the two wins.
func testSearchLargeBatch(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, mailstore.Options{})
	u := addUser(t, s, "batch@x.test")
	const n = 1100
	var texts []mailstore.SearchText
	for i := range n {
		d := deliver(t, s, fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i), mailstore.Target{UserID: u.ID})
		msgs, err := s.MessagesInRange(ctx, d.Messages[0].MailboxID, d.Messages[0].UID, d.Messages[0].UID)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("message %d: %v %v", i, msgs, err)
		}
		texts = append(texts, mailstore.SearchText{BodyID: msgs[0].BodyID, Header: fmt.Sprintf("Subject: m%d", i), Text: fmt.Sprintf("word%05dx", i)})
	}
	texts = append(texts, mailstore.SearchText{BodyID: texts[7].BodyID, Header: "Subject: m7", Text: "secondtext"})
	if err := s.PutSearchText(ctx, texts); err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.MailboxByName(ctx, u.ID, "INBOX")
	for _, i := range []int{0, 511, 512, 1023, 1024, n - 1} {
		got, err := s.SearchTextUIDs(ctx, inbox.ID, mailstore.FieldBody, fmt.Sprintf("word%05dx", i))
		if err != nil || len(got) != 1 {
			t.Errorf("text %d: %v %v", i, got, err)
		}
	}
	if got, _ := s.SearchTextUIDs(ctx, inbox.ID, mailstore.FieldBody, "word00007x"); len(got) != 0 {
		t.Errorf("the earlier text of a body given twice is still found: %v", got)
	}
	if got, _ := s.SearchTextUIDs(ctx, inbox.ID, mailstore.FieldBody, "secondtext"); len(got) != 1 {
		t.Errorf("the later text of a body given twice is not found: %v", got)
	}
	checkConsistent(t, s)
}

func testEnvelopes(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, mailstore.Options{})
	_, mb := threeMessages(t, s, "en@x.test")
	msgs, _ := s.Messages(ctx, mb.ID)
	if err := s.PutSearchText(ctx, []mailstore.SearchText{
		{BodyID: msgs[0].BodyID, Header: "a", Text: "a", RawHeader: []byte("A: 1\r\n\r\n"), Envelope: []byte("env1")},
		{BodyID: msgs[1].BodyID, Header: "b", Text: "b", RawHeader: []byte("B: 2\r\n\r\n")},
	}); err != nil {
		t.Fatal(err)
	}
	got, envs, err := s.MessagesWithEnvelopes(ctx, mb.ID, 1, 3)
	if err != nil || len(got) != 3 || len(envs) != 1 || envs[0].UID != 1 || string(envs[0].Data) != "env1" || got[2].BodyID != msgs[2].BodyID {
		t.Fatalf("with envelopes: %+v %+v %v", got, envs, err)
	}
	missing, err := s.HeadersWithoutEnvelope(ctx, 10)
	if err != nil || len(missing) != 1 || missing[0].BodyID != msgs[1].BodyID || string(missing[0].RawHeader) != "B: 2\r\n\r\n" {
		t.Fatalf("headers without envelope: %+v %v", missing, err)
	}
	if err := s.PutEnvelopes(ctx, []mailstore.BodyEnvelope{{BodyID: msgs[1].BodyID, Data: []byte("env2")}, {BodyID: 987654321, Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if missing, _ := s.HeadersWithoutEnvelope(ctx, 10); len(missing) != 0 {
		t.Fatalf("still missing: %+v", missing)
	}
	_, envs, _ = s.MessagesWithEnvelopes(ctx, mb.ID, 2, 3)
	if len(envs) != 1 || envs[0].UID != 2 || string(envs[0].Data) != "env2" {
		t.Fatalf("envelopes 2:3 %+v", envs)
	}
	// The envelope and the search text go with the body.
	if err := s.Expunge(ctx, mb.ID, []uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if missing, _ := s.HeadersWithoutEnvelope(ctx, 10); len(missing) != 0 {
		t.Fatalf("after expunge: %+v", missing)
	}
	if _, _, err := s.OpenBody(ctx, msgs[0].BodyID); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("expunged body: %v", err)
	}
}
