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
	"fmt"
	"io"
	"sync"
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

// Opened is what an Opener (or a backend's own tests) makes of the results of a backend's
// open function: the store, which t's cleanup closes, or t's failure with err.
func Opened[S interface{ Close() error }](t testing.TB, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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
		{name: "UnchangedSince", fresh: testUnchangedSince},
		{name: "CopyAndMove", fresh: testCopyAndMove},
		{name: "CopyUIDSet", fresh: testCopyUIDSet},
		{name: "Expunge", fresh: testExpunge},
		{name: "ChangesSince", fresh: testChangesSince},
		{name: "MailboxCounts", fresh: testMailboxCounts},
		{name: "ClaimRecent", fresh: testClaimRecent},
		{name: "SubscribedNames", fresh: testSubscribedNames},
		{name: "Search", fresh: testSearch},
		{name: "SearchLargeBatch", fresh: testSearchLargeBatch},
		{name: "SearchFields", fresh: testSearchFields},
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
		{name: "AppendAll", opens: testAppendAll},
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

// The cases below hold every method to the contract's errors: ErrClosed after Close,
// ErrNotFound for what does not exist.

// testClosed: every call after Close fails with mailstore.ErrClosed, reads and writes alike,
// and a second Close is harmless.
func testClosed(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "cl@x.test")
	deliver(t, s, "Subject: c\r\n\r\nc\r\n", mailstore.Target{UserID: u.ID})
	inbox, msgs := mailbox(t, s, u, "INBOX")
	qid := spool(t, s, "cl@x.test", nil, "r@remote.test")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	body := msgbuf.FromBytes([]byte("Subject: after\r\n\r\nafter\r\n"))
	now := time.Unix(1_800_000_000, 0)
	calls := []struct {
		name string
		call func() error
	}{
		{"Deliver", func() error {
			_, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: body, Local: []mailstore.Target{{UserID: u.ID}}}}})
			return err
		}},
		{"Append", func() error {
			_, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: inbox.ID, Body: body})
			return err
		}},
		{"AddUser", func() error { _, err := s.AddUser(ctx, mustAddr(t, "new@x.test"), "h"); return err }},
		{"SetPasswordHash", func() error { return s.SetPasswordHash(ctx, mustAddr(t, "cl@x.test"), "h2") }},
		{"CreateMailbox", func() error { _, err := s.CreateMailbox(ctx, u.ID, "Box", ""); return err }},
		{"RenameMailbox", func() error { return s.RenameMailbox(ctx, u.ID, "Sent", "Sent2") }},
		{"SetFlags", func() error { return s.SetFlags(ctx, inbox.ID, []uint32{1}, mailstore.FlagSeen) }},
		{"Expunge", func() error { return s.Expunge(ctx, inbox.ID, []uint32{1}) }},
		{"UpdateMaildrop", func() error {
			return s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: inbox.ID, Seen: []uint32{1}})
		}},
		{"SetAlias", func() error {
			return s.SetAlias(ctx, "a@x.test", mailstore.Alias{Address: "a@x.test", Targets: []string{"cl@x.test"}}, nil)
		}},
		{"SetPolicy", func() error { return s.SetPolicy(ctx, "global", map[string]string{"k": "v"}) }},
		{"PutEnvelopes", func() error {
			return s.PutEnvelopes(ctx, []mailstore.BodyEnvelope{{BodyID: 1, Data: []byte("e")}})
		}},
		{"QueueFlush", func() error { _, err := s.QueueFlush(ctx, now); return err }},
		{"QueueRetry", func() error { return s.QueueRetry(ctx, qid, now) }},
		{"QueueDelete", func() error { return s.QueueDelete(ctx, qid) }},
		{"UserByAddress", func() error { _, err := s.UserByAddress(ctx, mustAddr(t, "cl@x.test")); return err }},
		{"Users", func() error { _, err := s.Users(ctx); return err }},
		{"Mailboxes", func() error { _, err := s.Mailboxes(ctx, u.ID); return err }},
		{"MailboxByName", func() error { _, err := s.MailboxByName(ctx, u.ID, "INBOX"); return err }},
		{"Messages", func() error { _, err := s.Messages(ctx, inbox.ID); return err }},
		{"Snapshot", func() error { _, err := s.Snapshot(ctx, inbox.ID); return err }},
		{"OpenBody", func() error {
			rc, _, err := s.OpenBody(ctx, msgs[0].BodyID)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"Maildrop", func() error { _, err := s.Maildrop(ctx, u.ID); return err }},
		{"QueueEntries", func() error { _, err := s.QueueEntries(ctx); return err }},
		{"QueueDue", func() error { _, err := s.QueueDue(ctx, now, 10); return err }},
		{"Aliases", func() error { _, err := s.Aliases(ctx); return err }},
		{"PolicySettings", func() error { _, err := s.PolicySettings(ctx); return err }},
		{"Check", func() error { _, err := s.Check(ctx); return err }},
	}
	calls = append(calls, struct {
		name string
		call func() error
	}{"LockMaildrop", func() error {
		release, err := s.LockMaildrop(ctx, u.ID)
		if err == nil {
			release()
		}
		return err
	}})
	// Each call several times: a call that only sometimes notices the store is closed (a
	// write queued after the writer stopped) shows up.
	for _, c := range calls {
		for range 5 {
			if err := c.call(); !errors.Is(err, mailstore.ErrClosed) {
				t.Fatalf("%s after Close: %v, want mailstore.ErrClosed", c.name, err)
			}
		}
	}
}

// testWriteRacingClose: writes running while the store closes each either commit (nil) or
// fail with mailstore.ErrClosed; none hangs.
func testWriteRacingClose(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "race@x.test")
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				var err error
				if i%2 == 0 {
					_, err = s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{
						Body: msgbuf.FromBytes([]byte("Subject: r\r\n\r\nr\r\n")), Local: []mailstore.Target{{UserID: u.ID}}}}})
				} else {
					err = s.SetPolicy(ctx, fmt.Sprintf("w%d@x.test", w), map[string]string{"n": fmt.Sprint(i)})
				}
				if err != nil {
					if !errors.Is(err, mailstore.ErrClosed) {
						errs <- fmt.Errorf("writer %d, write %d: %w", w, i, err)
					}
					return
				}
			}
		}()
	}
	close(start)
	// Some writes commit before Close.
	deliver(t, s, "Subject: first\r\n\r\nfirst\r\n", mailstore.Target{UserID: u.ID})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testMissingIsNotFound: every method given a mailbox, message body, user, alias or spool
// entry that does not exist fails with mailstore.ErrNotFound, never with a backend's own
// "no rows" error.
func testMissingIsNotFound(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "here@x.test")
	inbox, _ := mailbox(t, s, u, "INBOX")
	const noMailbox, noUser, noBody, noEntry = 987654321, 987654322, 987654323, 987654324
	ghost := mustAddr(t, "ghost@x.test")
	body := func() mailstore.Body { return msgbuf.FromBytes([]byte("Subject: m\r\n\r\nm\r\n")) }
	calls := []struct {
		name string
		call func() error
	}{
		// mailboxes
		{"SetFlags", func() error { return s.SetFlags(ctx, noMailbox, []uint32{1}, mailstore.FlagSeen) }},
		{"UpdateFlags", func() error {
			_, err := s.UpdateFlags(ctx, noMailbox, []uint32{1}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen})
			return err
		}},
		{"UpdateMaildrop", func() error {
			return s.UpdateMaildrop(ctx, mailstore.MaildropUpdate{MailboxID: noMailbox, Seen: []uint32{1}, Hide: []uint32{1}, Expunge: []uint32{1}})
		}},
		{"MailboxStatus", func() error { _, err := s.MailboxStatus(ctx, noMailbox); return err }},
		{"Snapshot", func() error { _, err := s.Snapshot(ctx, noMailbox); return err }},
		{"HighestModSeq", func() error { _, err := s.HighestModSeq(ctx, noMailbox); return err }},
		{"ChangesSince", func() error { _, err := s.ChangesSince(ctx, noMailbox, 1); return err }},
		{"CopyMessages from", func() error { _, err := s.CopyMessages(ctx, noMailbox, inbox.ID, []uint32{1}, false); return err }},
		{"CopyMessages to", func() error { _, err := s.CopyMessages(ctx, inbox.ID, noMailbox, []uint32{1}, true); return err }},
		{"Append", func() error {
			_, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: noMailbox, Body: body()})
			return err
		}},
		{"MailboxByName", func() error { _, err := s.MailboxByName(ctx, u.ID, "Nowhere"); return err }},
		{"DeleteMailbox", func() error { return s.DeleteMailbox(ctx, u.ID, "Nowhere") }},
		{"RenameMailbox", func() error { return s.RenameMailbox(ctx, u.ID, "Nowhere", "Elsewhere") }},
		{"SetSubscribed", func() error { return s.SetSubscribed(ctx, u.ID, "Nowhere", true) }},
		// users
		{"UserByAddress", func() error { _, err := s.UserByAddress(ctx, ghost); return err }},
		{"SetPasswordHash", func() error { return s.SetPasswordHash(ctx, ghost, "h") }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, ghost) }},
		{"CreateMailbox of a missing user", func() error { _, err := s.CreateMailbox(ctx, noUser, "Box", ""); return err }},
		{"CreateMailboxes of a missing user", func() error { _, err := s.CreateMailboxes(ctx, noUser, "A/B", ""); return err }},
		{"RenameMailbox of a missing user", func() error { return s.RenameMailbox(ctx, noUser, "INBOX", "Old") }},
		{"Maildrop of a missing user", func() error { _, err := s.Maildrop(ctx, noUser); return err }},
		{"Deliver to a missing user", func() error {
			_, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: body(), Local: []mailstore.Target{{UserID: noUser}}}}})
			return err
		}},
		{"Append to another user's mailbox", func() error {
			_, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: noUser, MailboxID: inbox.ID, Body: body()})
			return err
		}},
		// bodies and aliases
		{"OpenBody", func() error {
			rc, _, err := s.OpenBody(ctx, noBody)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"AliasByKey", func() error { _, err := s.AliasByKey(ctx, "ghost@x.test"); return err }},
		{"DeleteAlias", func() error { return s.DeleteAlias(ctx, "ghost@x.test") }},
		// spool entries
		{"QueueEntry", func() error { _, err := s.QueueEntry(ctx, noEntry); return err }},
		{"QueueRecord", func() error {
			return s.QueueRecord(ctx, noEntry, []mailstore.QueueRecipient{{Address: "r@remote.test", State: mailstore.RcptDelivered}})
		}},
		{"QueueSettle", func() error {
			_, err := s.QueueSettle(ctx, noEntry, mailstore.Settle{Attempted: true, NextAttempt: time.Unix(1_800_000_000, 0)})
			return err
		}},
		{"QueueSetHeld", func() error { return s.QueueSetHeld(ctx, noEntry, true) }},
		{"QueueRetry", func() error { return s.QueueRetry(ctx, noEntry, time.Unix(1_800_000_000, 0)) }},
		{"QueueDelete", func() error { return s.QueueDelete(ctx, noEntry) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, mailstore.ErrNotFound) {
			t.Errorf("%s: %v, want mailstore.ErrNotFound", c.name, err)
		}
	}
	// Nothing was changed by the failed calls.
	if _, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 0 {
		t.Errorf("INBOX has %d messages", len(msgs))
	}
	checkConsistent(t, s)
}
