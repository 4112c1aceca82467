// Package storetest is the conformance suite every mail store passes: the embedded store
// (package mailstore) and the PostgreSQL store (package pgstore) run it from their tests, so
// both keep one contract — the one documented on mailstore's methods.
//
// Run opens a fresh, empty store for each sub-test. The checks go through the methods of
// Store only; what a backend adds (files, several nodes) is tested beside it.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// Store is the contract the suite checks (mailstore.Backend).
type Store = mailstore.Backend

// Opener opens a fresh, empty store for one test; the store is closed by the test's cleanup
// (Run also closes some stores itself: Close must tolerate a second call).
type Opener func(t *testing.T, opts mailstore.Options) Store

// Run runs the suite against the stores open makes.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name  string
		fresh func(t *testing.T, s Store)     // runs on one empty store with the default options
		opens func(t *testing.T, open Opener) // sets options (a clock, a quota, OnCommit) itself
	}{
		{name: "Users", fresh: testUsers},
		{name: "DeliverSharesBodyAndAssignsUIDs", fresh: testDeliverSharesBody},
		{name: "DeliverIsAllOrNothing", fresh: testDeliverAllOrNothing},
		{name: "DeliverFallsBackToInbox", fresh: testDeliverFallsBackToInbox},
		{name: "ConcurrentDeliveriesGetUniqueUIDs", fresh: testConcurrentDeliveries},
		{name: "OnCommit", opens: testOnCommit},
		{name: "LargeBody", fresh: testLargeBody},
		{name: "Append", fresh: testAppend},
		{name: "Mailboxes", fresh: testMailboxes},
		{name: "RenameWithChildren", fresh: testRenameWithChildren},
		{name: "RenameInbox", fresh: testRenameInbox},
		{name: "RenameInboxWithHidden", fresh: testRenameInboxWithHidden},
		{name: "Flags", fresh: testFlags},
		{name: "CopyAndMove", fresh: testCopyAndMove},
		{name: "CopyUIDSet", fresh: testCopyUIDSet},
		{name: "Expunge", fresh: testExpunge},
		{name: "ChangesSince", fresh: testChangesSince},
		{name: "MailboxCounts", fresh: testMailboxCounts},
		{name: "ClaimRecent", fresh: testClaimRecent},
		{name: "SubscribedNames", fresh: testSubscribedNames},
		{name: "Search", fresh: testSearch},
		{name: "SearchLargeBatch", fresh: testSearchLargeBatch},
		{name: "Envelopes", fresh: testEnvelopes},
		{name: "Maildrop", fresh: testMaildrop},
		{name: "MaildropLock", fresh: testMaildropLock},
		{name: "QueueLifecycle", opens: testQueueLifecycle},
		{name: "QueueBounce", opens: testQueueBounce},
		{name: "QueueAdmin", opens: testQueueAdmin},
		{name: "TLSReportCounts", opens: testTLSReportCounts},
		{name: "Aliases", fresh: testAliases},
		{name: "Policy", fresh: testPolicy},
		{name: "Check", fresh: testCheck},
		{name: "MissingIsNotFound", fresh: testMissingIsNotFound},
		{name: "Closed", fresh: testClosed},
		{name: "WriteRacingClose", fresh: testWriteRacingClose},
		{name: "QuotaUsage", opens: testQuotaUsage},
		{name: "QuotaLimits", opens: testQuotaLimits},
		{name: "QuotaRefusals", opens: testQuotaRefusals},
		{name: "QuotaConcurrent", opens: testQuotaConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fresh != nil {
				tc.fresh(t, open(t, mailstore.Options{}))
				return
			}
			tc.opens(t, open)
		})
	}
}

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func mustAddr(t *testing.T, s string) address.Address {
	t.Helper()
	a, err := address.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func addUser(t *testing.T, s Store, addr string) mailstore.User {
	t.Helper()
	u, err := s.AddUser(context.Background(), mustAddr(t, addr), "hash")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// checkConsistent fails t unless Check finds nothing wrong with s.
func checkConsistent(t *testing.T, s Store) {
	t.Helper()
	if probs, err := s.Check(context.Background()); err != nil || len(probs) != 0 {
		t.Fatalf("check: %v %v", probs, err)
	}
}

func readBody(t *testing.T, s Store, bodyID int64) []byte {
	t.Helper()
	rc, size, err := s.OpenBody(context.Background(), bodyID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("body %d: read %d bytes, size %d", bodyID, len(b), size)
	}
	return b
}

// bodyGone fails t unless the body is no longer stored; what says which body it is.
func bodyGone(t *testing.T, s Store, bodyID int64, what string) {
	t.Helper()
	if _, _, err := s.OpenBody(context.Background(), bodyID); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("%s: %v, want ErrNotFound", what, err)
	}
}

func mailbox(t *testing.T, s Store, u mailstore.User, name string) (mailstore.Mailbox, []mailstore.Message) {
	t.Helper()
	mb, err := s.MailboxByName(context.Background(), u.ID, name)
	if err != nil {
		t.Fatalf("mailbox %s: %v", name, err)
	}
	msgs, err := s.Messages(context.Background(), mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return mb, msgs
}

func deliver(t *testing.T, s Store, body string, to ...mailstore.Target) mailstore.Delivered {
	t.Helper()
	d, err := s.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
		Body: msgbuf.FromBytes([]byte(body)), Local: to}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func uids(msgs []mailstore.Message) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

// bigBody is a message larger than mailstore.InlineLimit, streamed from a buffer that spills
// to disk.
func bigBody(t *testing.T, size int) (*msgbuf.Buffer, []byte) {
	t.Helper()
	buf := msgbuf.New(msgbuf.Options{Dir: t.TempDir(), MemoryLimit: 64 << 10})
	want := make([]byte, 0, size)
	head := []byte("Subject: big\r\n\r\n")
	buf.Write(head)
	want = append(want, head...)
	line := []byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy\r\n")
	for i := 0; len(want) < size; i++ {
		l := append([]byte{byte('A' + i%26)}, line...)
		buf.Write(l)
		want = append(want, l...)
	}
	if err := buf.Finish(); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(buf.NewReader())
	if !bytes.Equal(got, want) {
		t.Fatal("msgbuf changed the body")
	}
	return buf, want
}
