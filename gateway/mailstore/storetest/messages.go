package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// threeMessages delivers three messages to a new user's INBOX.
func threeMessages(t *testing.T, s Store, addr string) (mailstore.User, mailstore.Mailbox) {
	t.Helper()
	u := addUser(t, s, addr)
	for i := 1; i <= 3; i++ {
		deliver(t, s, fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i), mailstore.Target{UserID: u.ID})
	}
	mb, _ := mailbox(t, s, u, "INBOX")
	return u, mb
}

func testFlags(t *testing.T, s Store) {
	ctx := t.Context()
	_, mb := threeMessages(t, s, "fl@x.test")
	start := mb.HighestModSeq

	got, err := s.UpdateFlags(ctx, mb.ID, []uint32{1, 2, 99}, mailstore.FlagChange{Op: mailstore.FlagsAdd,
		Flags: mailstore.FlagSeen | mailstore.FlagFlagged, Keywords: []string{"Work", "work", "$Junk"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].UID != 1 || got[1].UID != 2 || got[0].Flags != mailstore.FlagSeen|mailstore.FlagFlagged ||
		fmt.Sprint(got[0].Keywords) != "[Work $Junk]" || got[0].ModSeq <= start {
		t.Fatalf("add: %+v", got)
	}
	added := got[0].ModSeq
	// A change that changes nothing keeps the MODSEQ.
	got, err = s.UpdateFlags(ctx, mb.ID, []uint32{1}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen, Keywords: []string{"WORK"}})
	if err != nil || len(got) != 1 || got[0].ModSeq != added || fmt.Sprint(got[0].Keywords) != "[Work $Junk]" {
		t.Fatalf("no-op add: %+v %v", got, err)
	}
	got, err = s.UpdateFlags(ctx, mb.ID, []uint32{1}, mailstore.FlagChange{Op: mailstore.FlagsRemove, Flags: mailstore.FlagFlagged, Keywords: []string{"work"}})
	if err != nil || len(got) != 1 || got[0].Flags != mailstore.FlagSeen || fmt.Sprint(got[0].Keywords) != "[$Junk]" || got[0].ModSeq <= added {
		t.Fatalf("remove: %+v %v", got, err)
	}
	got, err = s.UpdateFlags(ctx, mb.ID, []uint32{2}, mailstore.FlagChange{Op: mailstore.FlagsReplace, Flags: mailstore.FlagAnswered, Keywords: []string{"a", "A", "b"}})
	if err != nil || len(got) != 1 || got[0].Flags != mailstore.FlagAnswered || fmt.Sprint(got[0].Keywords) != "[a b]" {
		t.Fatalf("replace: %+v %v", got, err)
	}
	msgs, _ := s.Messages(ctx, mb.ID)
	if msgs[0].Flags != mailstore.FlagSeen || fmt.Sprint(msgs[0].Keywords) != "[$Junk]" || msgs[1].Flags != mailstore.FlagAnswered ||
		msgs[2].Flags != 0 || msgs[2].Keywords != nil || msgs[2].ModSeq > start {
		t.Fatalf("stored: %+v", msgs)
	}
	if err := s.SetFlags(ctx, mb.ID, []uint32{2, 3}, mailstore.FlagDeleted); err != nil {
		t.Fatal(err)
	}
	msgs, _ = s.Messages(ctx, mb.ID)
	if msgs[1].Flags != mailstore.FlagDeleted || msgs[2].Flags != mailstore.FlagDeleted || msgs[2].ModSeq <= start {
		t.Fatalf("after SetFlags: %+v", msgs)
	}
	hm, err := s.HighestModSeq(ctx, mb.ID)
	if err != nil || hm < msgs[2].ModSeq {
		t.Fatalf("HIGHESTMODSEQ %d below a message's %d (%v)", hm, msgs[2].ModSeq, err)
	}
	snap, err := s.Snapshot(ctx, mb.ID)
	if err != nil || snap.Mailbox.ID != mb.ID || snap.Mailbox.HighestModSeq != hm || len(snap.Messages) != 3 ||
		snap.Messages[1].Flags != mailstore.FlagDeleted || fmt.Sprint(snap.Messages[0].Keywords) != "[$Junk]" {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	if _, err := s.Snapshot(ctx, 987654321); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("snapshot of a missing mailbox: %v", err)
	}
	if _, err := s.HighestModSeq(ctx, 987654321); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("HIGHESTMODSEQ of a missing mailbox: %v", err)
	}
	in, err := s.MessagesInRange(ctx, mb.ID, 2, 9)
	if err != nil || fmt.Sprint(uids(in)) != "[2 3]" {
		t.Fatalf("range: %v %v", uids(in), err)
	}
}

func testCopyAndMove(t *testing.T, s Store) {
	ctx := t.Context()
	u, inbox := threeMessages(t, s, "cp@x.test")
	other, _ := threeMessages(t, s, "other@x.test")
	archive, _ := s.MailboxByName(ctx, u.ID, "Archive")
	if _, err := s.UpdateFlags(ctx, inbox.ID, []uint32{2}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagFlagged, Keywords: []string{"k"}}); err != nil {
		t.Fatal(err)
	}
	src, _ := s.Messages(ctx, inbox.ID)

	res, err := s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{3, 2, 77}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.UIDValidity != archive.UIDValidity || fmt.Sprint(res.Source) != "[2 3]" || fmt.Sprint(res.Dest) != "[1 2]" {
		t.Fatalf("copy result %+v", res)
	}
	_, dst := mailbox(t, s, u, "Archive")
	if len(dst) != 2 || dst[0].BodyID != src[1].BodyID || dst[0].Flags != mailstore.FlagFlagged || fmt.Sprint(dst[0].Keywords) != "[k]" ||
		!dst[0].InternalDate.Equal(src[1].InternalDate) || dst[0].Size != src[1].Size {
		t.Fatalf("copies %+v of %+v", dst, src)
	}
	if _, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 3 {
		t.Fatal("copy removed messages from the source")
	}
	before, _ := s.HighestModSeq(ctx, inbox.ID)
	res, err = s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{1, 2}, true)
	if err != nil || fmt.Sprint(res.Source) != "[1 2]" || fmt.Sprint(res.Dest) != "[3 4]" {
		t.Fatalf("move %+v %v", res, err)
	}
	if _, msgs := mailbox(t, s, u, "INBOX"); fmt.Sprint(uids(msgs)) != "[3]" {
		t.Fatalf("after move INBOX holds %v", uids(msgs))
	}
	ch, err := s.ChangesSince(ctx, inbox.ID, before+1)
	if err != nil || fmt.Sprint(sorted(ch.Expunged)) != "[1 2]" {
		t.Fatalf("moved messages are not expunged from the source: %+v %v", ch, err)
	}
	// The body of a message copied and then expunged in the source lives on.
	if err := s.Expunge(ctx, inbox.ID, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, s, src[2].BodyID); string(got) != "Subject: 3\r\n\r\nbody 3\r\n" {
		t.Fatalf("copied body %q", got)
	}
	otherInbox, _ := s.MailboxByName(ctx, other.ID, "INBOX")
	if _, err := s.CopyMessages(ctx, otherInbox.ID, archive.ID, []uint32{1}, false); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("copy between users: %v, want ErrNotFound", err)
	}
	if _, err := s.CopyMessages(ctx, inbox.ID, 987654321, []uint32{1}, false); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("copy to a missing mailbox: %v", err)
	}
	checkConsistent(t, s)
}

func testExpunge(t *testing.T, s Store) {
	ctx := t.Context()
	_, mb := threeMessages(t, s, "ex@x.test")
	if got, err := s.ExpungeDeleted(ctx, mb.ID, nil); err != nil || len(got) != 0 {
		t.Fatalf("nothing deleted: %v %v", got, err)
	}
	if err := s.SetFlags(ctx, mb.ID, []uint32{1, 3}, mailstore.FlagDeleted); err != nil {
		t.Fatal(err)
	}
	got, err := s.ExpungeDeleted(ctx, mb.ID, []uint32{2, 3})
	if err != nil || fmt.Sprint(got) != "[3]" {
		t.Fatalf("expunge only 2, 3: %v %v", got, err)
	}
	got, err = s.ExpungeDeleted(ctx, mb.ID, nil)
	if err != nil || fmt.Sprint(got) != "[1]" {
		t.Fatalf("expunge all: %v %v", got, err)
	}
	if msgs, _ := s.Messages(ctx, mb.ID); fmt.Sprint(uids(msgs)) != "[2]" {
		t.Fatalf("left %v", uids(msgs))
	}
	if err := s.Expunge(ctx, mb.ID, []uint32{2, 42}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.MailboxStatus(ctx, mb.ID)
	if c.Messages != 0 || c.UIDNext != 4 {
		t.Fatalf("status %+v", c)
	}
	checkConsistent(t, s)
}

func testChangesSince(t *testing.T, s Store) {
	ctx := t.Context()
	u, mb := threeMessages(t, s, "ch@x.test")
	mark := mb.HighestModSeq
	if _, err := s.UpdateFlags(ctx, mb.ID, []uint32{2}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(ctx, mb.ID, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	d := deliver(t, s, "new\r\n\r\n", mailstore.Target{UserID: u.ID})
	ch, err := s.ChangesSince(ctx, mb.ID, mark+1)
	if err != nil {
		t.Fatal(err)
	}
	hm, _ := s.HighestModSeq(ctx, mb.ID)
	if ch.HighestModSeq != hm || hm <= mark {
		t.Fatalf("HIGHESTMODSEQ %d, mailbox %d, mark %d", ch.HighestModSeq, hm, mark)
	}
	if fmt.Sprint(uids(ch.Changed)) != fmt.Sprint([]uint32{2, d.Messages[0].UID}) || ch.Changed[0].Flags != mailstore.FlagSeen {
		t.Fatalf("changed %+v", ch.Changed)
	}
	if fmt.Sprint(ch.Expunged) != "[3]" {
		t.Fatalf("expunged %v", ch.Expunged)
	}
	ch, err = s.ChangesSince(ctx, mb.ID, hm+1)
	if err != nil || len(ch.Changed) != 0 || len(ch.Expunged) != 0 {
		t.Fatalf("changes after the latest: %+v %v", ch, err)
	}
	if _, err := s.ChangesSince(ctx, 987654321, 1); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("changes of a missing mailbox: %v", err)
	}
}

// testCopyUIDSet: a source set that names messages twice and out of order copies each
// message once, in UID order, to consecutive UIDs (the COPYUID mapping pairs them in that
// order), and every copy of one COPY or MOVE carries the same MODSEQ, the destination's new
// HIGHESTMODSEQ (mailstore.CopyUIDs).
func testCopyUIDSet(t *testing.T, s Store) {
	ctx := t.Context()
	u, inbox := threeMessages(t, s, "dup@x.test")
	archive, err := s.MailboxByName(ctx, u.ID, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{3, 1, 3, 1, 2, 2}, false)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Source) != "[1 2 3]" || fmt.Sprint(res.Dest) != "[1 2 3]" {
		t.Fatalf("copy result %+v, want Source [1 2 3] Dest [1 2 3]", res)
	}
	mb, dst := mailbox(t, s, u, "Archive")
	if len(dst) != 3 || mb.UIDNext != 4 {
		t.Fatalf("destination holds %d messages, UIDNEXT %d; want 3 and 4", len(dst), mb.UIDNext)
	}
	for _, m := range dst {
		if m.ModSeq != mb.HighestModSeq {
			t.Fatalf("copy UID %d has MODSEQ %d, want the destination's HIGHESTMODSEQ %d (one per COPY)", m.UID, m.ModSeq, mb.HighestModSeq)
		}
	}
	if mb.HighestModSeq != archive.HighestModSeq+1 {
		t.Fatalf("HIGHESTMODSEQ went from %d to %d, want one step per COPY", archive.HighestModSeq, mb.HighestModSeq)
	}

	res, err = s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{2, 2, 1}, true)
	if err != nil || fmt.Sprint(res.Source) != "[1 2]" || fmt.Sprint(res.Dest) != "[4 5]" {
		t.Fatalf("move %+v %v, want Source [1 2] Dest [4 5]", res, err)
	}
	mb, dst = mailbox(t, s, u, "Archive")
	if len(dst) != 5 || dst[3].ModSeq != mb.HighestModSeq || dst[4].ModSeq != mb.HighestModSeq {
		t.Fatalf("after the move: %+v, HIGHESTMODSEQ %d", dst, mb.HighestModSeq)
	}
	if _, src := mailbox(t, s, u, "INBOX"); fmt.Sprint(uids(src)) != "[3]" {
		t.Fatalf("INBOX after the move holds %v, want [3]", uids(src))
	}
	checkConsistent(t, s)
}

func testSearch(t *testing.T, s Store) {
	ctx := t.Context()
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
func testSearchLargeBatch(t *testing.T, s Store) {
	ctx := t.Context()
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

func testEnvelopes(t *testing.T, s Store) {
	ctx := t.Context()
	_, mb := threeMessages(t, s, "en@x.test")
	msgs, _ := s.Messages(ctx, mb.ID)
	if err := s.PutSearchText(ctx, []mailstore.SearchText{
		{BodyID: msgs[0].BodyID, Header: "a", Text: "a", RawHeader: []byte("A: 1\r\n\r\n"), Envelope: []byte("env1")},
		{BodyID: msgs[1].BodyID, Header: "b", Text: "b", RawHeader: []byte("B: 2\r\n\r\n")},
	}); err != nil {
		t.Fatal(err)
	}
	got, envs, modseq, err := s.MessagesWithEnvelopes(ctx, mb.ID, 1, 3)
	if err != nil || len(got) != 3 || len(envs) != 1 || envs[0].UID != 1 || string(envs[0].Data) != "env1" || got[2].BodyID != msgs[2].BodyID {
		t.Fatalf("with envelopes: %+v %+v %v", got, envs, err)
	}
	// The mailbox's HIGHESTMODSEQ comes with the rows, and follows a flag change.
	if hm, err := s.HighestModSeq(ctx, mb.ID); err != nil || modseq != hm || modseq == 0 {
		t.Fatalf("with envelopes: HIGHESTMODSEQ %d, the mailbox's %d (%v)", modseq, hm, err)
	}
	if _, err := s.UpdateFlags(ctx, mb.ID, []uint32{3}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	if _, _, after, _ := s.MessagesWithEnvelopes(ctx, mb.ID, 1, 1); after <= modseq {
		t.Fatalf("with envelopes after a flag change: HIGHESTMODSEQ %d, before %d", after, modseq)
	}
	if _, _, none, err := s.MessagesWithEnvelopes(ctx, mb.ID, 50, 60); err != nil || none != 0 {
		t.Fatalf("with envelopes of an empty range: HIGHESTMODSEQ %d (%v)", none, err)
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
	_, envs, _, _ = s.MessagesWithEnvelopes(ctx, mb.ID, 2, 3)
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
	bodyGone(t, s, msgs[0].BodyID, "expunged body")
}

// testUnchangedSince: a conditional change (STORE UNCHANGEDSINCE) leaves a message changed
// after the given MODSEQ as it is and out of the result, and changes the others.
func testUnchangedSince(t *testing.T, s Store) {
	ctx := t.Context()
	_, mb := threeMessages(t, s, "us@x.test")
	base := mb.HighestModSeq
	got, err := s.UpdateFlags(ctx, mb.ID, []uint32{2}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagFlagged})
	if err != nil || len(got) != 1 || got[0].ModSeq <= base {
		t.Fatalf("flag 2: %+v %v", got, err)
	}
	cond := mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen, UnchangedSince: base}
	got, err = s.UpdateFlags(ctx, mb.ID, []uint32{1, 2, 3}, cond)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].UID != 1 || got[1].UID != 3 || got[0].Flags != mailstore.FlagSeen || got[0].ModSeq <= base {
		t.Fatalf("conditional: %+v", got)
	}
	msgs, _ := s.Messages(ctx, mb.ID)
	if msgs[1].Flags != mailstore.FlagFlagged {
		t.Fatalf("message changed since was changed again: %+v", msgs[1])
	}
	// A message unchanged since exactly UnchangedSince passes; 0 is no condition.
	got, err = s.UpdateFlags(ctx, mb.ID, []uint32{2}, mailstore.FlagChange{Op: mailstore.FlagsReplace, UnchangedSince: msgs[1].ModSeq})
	if err != nil || len(got) != 1 || got[0].Flags != 0 {
		t.Fatalf("at its own MODSEQ: %+v %v", got, err)
	}
}
