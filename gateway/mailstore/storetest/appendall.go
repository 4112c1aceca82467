package storetest

import (
	"errors"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// testAppendAll: AppendAll (IMAP MULTIAPPEND) stores its messages, a large body among them,
// with consecutive UIDs in one transaction; past the quota it stores none of them; it takes
// one mailbox only.
func testAppendAll(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t, mailstore.Options{DefaultQuota: 1 << 30})
	qs, ok := s.(QuotaStore)
	if !ok {
		t.Fatal("the store keeps no quotas")
	}
	u := addUser(t, s, "multi@x.test")
	inbox, _ := mailbox(t, s, u, "INBOX")
	big, want := bigBody(t, mailstore.InlineLimit+100)
	req := func(body mailstore.Body, f mailstore.Flags) mailstore.AppendRequest {
		return mailstore.AppendRequest{UserID: u.ID, MailboxID: inbox.ID, Body: body, Flags: f}
	}
	uv, uids, err := s.AppendAll(ctx, []mailstore.AppendRequest{
		req(msgbuf.FromBytes([]byte(sized(100))), mailstore.FlagSeen),
		req(big, 0),
		req(msgbuf.FromBytes([]byte(sized(200))), mailstore.FlagFlagged),
	})
	if err != nil || uv != inbox.UIDValidity || len(uids) != 3 || uids[1] != uids[0]+1 || uids[2] != uids[1]+1 {
		t.Fatalf("AppendAll: %d %v %v", uv, uids, err)
	}
	_, msgs := mailbox(t, s, u, "INBOX")
	if len(msgs) != 3 || msgs[0].Flags != mailstore.FlagSeen || msgs[2].Flags != mailstore.FlagFlagged || msgs[1].Size != int64(len(want)) {
		t.Fatalf("stored: %+v", msgs)
	}
	used := quotaOf(t, qs, u.ID).Used
	if err := qs.SetQuota(ctx, mustAddr(t, "multi@x.test"), used+150); err != nil {
		t.Fatal(err)
	}
	// The first fits, the second does not: neither is stored.
	_, _, err = s.AppendAll(ctx, []mailstore.AppendRequest{
		req(msgbuf.FromBytes([]byte(sized(100))), 0),
		req(msgbuf.FromBytes([]byte(sized(100))), 0),
	})
	if !errors.Is(err, mailstore.ErrOverQuota) {
		t.Fatalf("AppendAll past the quota: %v", err)
	}
	if _, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 3 || quotaOf(t, qs, u.ID).Used != used {
		t.Fatalf("a refused AppendAll stored %d messages", len(msgs)-3)
	}
	archive, _ := mailbox(t, s, u, "Archive")
	other := req(msgbuf.FromBytes([]byte(sized(50))), 0)
	other.MailboxID = archive.ID
	if _, _, err := s.AppendAll(ctx, []mailstore.AppendRequest{req(msgbuf.FromBytes([]byte(sized(50))), 0), other}); err == nil {
		t.Fatal("AppendAll across two mailboxes succeeded")
	}
	if _, _, err := s.AppendAll(ctx, nil); err == nil {
		t.Fatal("AppendAll of nothing succeeded")
	}
}
