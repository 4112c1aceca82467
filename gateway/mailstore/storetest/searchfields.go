package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// fieldHeaders are the decoded header texts of the first messages of testSearchFields, in UID
// order: repeated and address fields with comments, upper case, non-ASCII, an empty value.
func fieldHeaders() []string {
	return []string{
		"From: Alice Example <alice@Example.ORG>\nTo: bob@x.test\nTo: Carol <carol@y.test>\nSubject: Quarterly REPORT\n",
		"From: <user (office) @ example.org>\nCc: dave@z.test\nSubject: Ärger über Öl\nMessage-ID: <ID-2@example.org>\n",
		"Subject: \nX-Other: alice@example.org\n",
	}
}

// fieldCase is one comparison of testSearchFields: the UIDs whose field holds needle.
type fieldCase struct {
	field, needle string
	want          []uint32
}

func fieldCases() []fieldCase {
	return []fieldCase{
		{"from", "example.org", []uint32{1, 2}},
		{"FROM", "ALICE@example", []uint32{1}},
		{"from", "user@example.org", []uint32{2}}, // the address without its comment
		{"from", "alice", []uint32{1}},            // not message 3's X-Other
		{"to", "carol", []uint32{1}},              // the second To field
		{"to", "x.test\ncarol", nil},              // a value holds no line break
		{"cc", "", []uint32{2}},                   // the empty string: the field is there
		{"bcc", "", nil},
		{"subject", "", []uint32{1, 2, 3}},
		{"subject", "ärger ÜBER", []uint32{2}},
		{"subject", "quarterly report", []uint32{1}},
		{"message-id", "<id-2@", []uint32{2}},
	}
}

// checkFieldCases compares the store's answers with the rule (HeaderFieldText and
// HeaderFieldMatch over headers) and with the expected UIDs; unknown lists the UIDs the store
// must report as not compared (not indexed, or their fields not kept).
func checkFieldCases(t *testing.T, s Store, mailboxID int64, headers map[uint32]string, unknown []uint32, step string) {
	t.Helper()
	for _, c := range fieldCases() {
		var rule []uint32
		for uid, h := range headers {
			if text, ok := mailstore.HeaderFieldText(h, c.field); ok && mailstore.HeaderFieldMatch(text, c.needle) {
				rule = append(rule, uid)
			}
		}
		slices.Sort(rule)
		fm, err := s.SearchFieldUIDs(t.Context(), mailboxID, c.field, c.needle)
		if err != nil {
			t.Fatalf("%s: %s %q: %v", step, c.field, c.needle, err)
		}
		got, gotUnknown := fm.Hits, fm.Unknown
		want := slices.DeleteFunc(slices.Clone(c.want), func(uid uint32) bool { return slices.Contains(unknown, uid) })
		if !slices.Equal(got, want) || !slices.Equal(gotUnknown, unknown) {
			t.Errorf("%s: %s %q: hits %v unknown %v, want %v and %v", step, c.field, c.needle, got, gotUnknown, want, unknown)
		}
		if !slices.Equal(rule, c.want) {
			t.Errorf("%s: %s %q: the rule finds %v, want %v", step, c.field, c.needle, rule, c.want)
		}
	}
}

// fieldMessages delivers a message for each of fieldHeaders and a fourth one (UID 4), indexes
// the first three and returns the INBOX, its messages and their header texts by UID.
func fieldMessages(t *testing.T, s Store, addr string) (mailstore.User, mailstore.Mailbox, []mailstore.Message, map[uint32]string) {
	t.Helper()
	u := addUser(t, s, addr)
	for i := range 4 {
		deliver(t, s, fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i), mailstore.Target{UserID: u.ID})
	}
	mb, msgs := mailbox(t, s, u, "INBOX")
	headers := map[uint32]string{}
	var texts []mailstore.SearchText
	for i, h := range fieldHeaders() {
		texts = append(texts, mailstore.SearchText{BodyID: msgs[i].BodyID, Header: h, Text: "text"})
		headers[msgs[i].UID] = h
	}
	if err := s.PutSearchText(t.Context(), texts); err != nil {
		t.Fatal(err)
	}
	return u, mb, msgs, headers
}

// testSearchFields: SearchFieldUIDs compares a needle with the header fields the store keeps
// apart as HeaderFieldMatch compares it with the header text, in every mailbox that holds the
// message and after the text is replaced, and reports messages not indexed as unknown (the
// fourth, and a new one that may take a removed body's id).
func testSearchFields(t *testing.T, s Store) {
	ctx := t.Context()
	u, mb, msgs, headers := fieldMessages(t, s, "fields@x.test")
	checkFieldCases(t, s, mb.ID, headers, []uint32{4}, "indexed")
	if _, err := s.SearchFieldUIDs(ctx, mb.ID, "x-other", "alice"); err == nil {
		t.Error("a field the store does not keep: no error")
	}
	archive, _ := s.MailboxByName(ctx, u.ID, "Archive")
	if _, err := s.CopyMessages(ctx, mb.ID, archive.ID, []uint32{2}, false); err != nil {
		t.Fatal(err)
	}
	if fm, err := s.SearchFieldUIDs(ctx, archive.ID, "from", "user@example.org"); err != nil || fmt.Sprint(fm.Hits) != "[1]" {
		t.Errorf("in the copy: %+v %v", fm, err)
	}
	// Indexing again replaces the fields.
	if err := s.PutSearchText(ctx, []mailstore.SearchText{{BodyID: msgs[0].BodyID, Header: "From: zed@q.test\n", Text: "t"}}); err != nil {
		t.Fatal(err)
	}
	for needle, want := range map[string]string{"alice": "[]", "zed@q": "[1]"} {
		if fm, _ := s.SearchFieldUIDs(ctx, mb.ID, "from", needle); fmt.Sprint(fm.Hits) != want {
			t.Errorf("after indexing again, from %q: %v, want %s", needle, fm.Hits, want)
		}
	}
	// The newest body goes; a new message may take its id, and is not indexed.
	if err := s.Expunge(ctx, mb.ID, []uint32{msgs[3].UID}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSearchText(ctx, []mailstore.SearchText{{BodyID: msgs[2].BodyID, Header: "From: last@q.test\n", Text: "t"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(ctx, mb.ID, []uint32{msgs[2].UID}); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, "Subject: new\r\n\r\nnew\r\n", mailstore.Target{UserID: u.ID})
	if fm, err := s.SearchFieldUIDs(ctx, mb.ID, "from", ""); err != nil || fmt.Sprint(fm.Hits, fm.Unknown) != "[1 2] [5]" {
		t.Errorf("after the expunge and a new message: %+v %v", fm, err)
	}
	checkConsistent(t, s)
}

// SearchFieldsFilled is for a backend's tests: forget removes the kept fields of the given
// bodies (UIDs 1 and 3) as a database from before they were kept lacks them; SearchFieldUIDs
// then reports those messages as unknown, and FillSearchFields, a batch at a time, stores
// them again.
func SearchFieldsFilled(t *testing.T, s Store, forget func(bodyIDs ...int64)) {
	ctx := t.Context()
	_, mb, msgs, headers := fieldMessages(t, s, "filled@x.test")
	forget(msgs[0].BodyID, msgs[2].BodyID)
	checkFieldCases(t, s, mb.ID, headers, []uint32{1, 3, 4}, "forgotten")
	after, rounds := int64(0), 0
	for ; ; rounds++ {
		last, err := s.FillSearchFields(ctx, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if last == after {
			break
		}
		after = last
	}
	if rounds != 2 {
		t.Errorf("filled in %d rounds of one body, want 2", rounds)
	}
	checkFieldCases(t, s, mb.ID, headers, []uint32{4}, "filled")
}
