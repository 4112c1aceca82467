package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// testCopyUIDSet: a source set that names messages twice and out of order copies each
// message once, in UID order, to consecutive UIDs (the COPYUID mapping pairs them in that
// order), and every copy of one COPY or MOVE carries the same MODSEQ, the destination's new
// HIGHESTMODSEQ (mailstore.CopyUIDs).
func testCopyUIDSet(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, mailstore.Options{})
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
