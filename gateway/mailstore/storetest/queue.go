package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func spool(t *testing.T, s Store, sender string, local []mailstore.Target, rcpts ...string) int64 {
	t.Helper()
	d, err := s.Deliver(context.Background(), mailstore.Delivery{EnvelopeID: "env-1", Copies: []mailstore.Copy{{
		Body: msgbuf.FromBytes([]byte("Subject: out\r\n\r\nhello\r\n")), Local: local,
		Outbound: &mailstore.Outbound{Sender: sender, Recipients: rcpts},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return d.QueueIDs[0]
}

func due(t *testing.T, s Store, now time.Time) []int64 {
	t.Helper()
	ids, err := s.QueueDue(context.Background(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func rcptStates(e mailstore.QueueEntry) string {
	var out []string
	for _, r := range e.Recipients {
		out = append(out, r.Address+"="+r.State+"("+r.LastError+")")
	}
	return fmt.Sprint(out)
}

func testQueueLifecycle(t *testing.T, open Opener) {
	ctx := t.Context()
	c := newClock()
	s := open(t, mailstore.Options{Now: c.Now})
	u := addUser(t, s, "q@x.test")
	id := spool(t, s, "q@x.test", []mailstore.Target{{UserID: u.ID}}, "r2@remote.test", "r1@remote.test", "r1@remote.test")
	e, err := s.QueueEntry(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Sender != "q@x.test" || e.EnvelopeID != "env-1" || !e.Created.Equal(c.now) || !e.NextAttempt.Equal(c.now) || e.Attempts != 0 || e.Held || e.Warned ||
		rcptStates(e) != "[r1@remote.test=pending() r2@remote.test=pending()]" {
		t.Fatalf("entry %+v", e)
	}
	if n, _ := s.QueueLen(ctx); n != 1 {
		t.Fatalf("queue length %d", n)
	}
	if ids := due(t, s, c.now.Add(-time.Second)); len(ids) != 0 {
		t.Fatalf("due before its time: %v", ids)
	}
	if ids := due(t, s, c.now); fmt.Sprint(ids) != fmt.Sprint([]int64{id}) {
		t.Fatalf("due %v, want [%d]", ids, id)
	}
	if err := s.QueueRecord(ctx, id, []mailstore.QueueRecipient{
		{Address: "r1@remote.test", State: mailstore.RcptDelivered},
		{Address: "r2@remote.test", State: mailstore.RcptPending, LastError: "451 later"},
	}); err != nil {
		t.Fatal(err)
	}
	// A delivered recipient never becomes pending again.
	if err := s.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r1@remote.test", State: mailstore.RcptPending, LastError: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r2@remote.test", State: mailstore.RcptFailed}}); err == nil {
		t.Fatal("recording state failed directly was accepted")
	}
	e, _ = s.QueueEntry(ctx, id)
	if rcptStates(e) != "[r1@remote.test=delivered() r2@remote.test=pending(451 later)]" {
		t.Fatalf("after record: %s", rcptStates(e))
	}
	next := c.now.Add(5 * time.Minute)
	done, err := s.QueueSettle(ctx, id, mailstore.Settle{Attempted: true, NextAttempt: next, LastError: "451 later"})
	if err != nil || done {
		t.Fatalf("settle a retry: %v %v", done, err)
	}
	e, _ = s.QueueEntry(ctx, id)
	if e.Attempts != 1 || !e.NextAttempt.Equal(next) || e.LastError != "451 later" {
		t.Fatalf("after settle: %+v", e)
	}
	if ids := due(t, s, c.now); len(ids) != 0 {
		t.Fatalf("due before the retry time: %v", ids)
	}
	c.now = next
	if ids := due(t, s, c.now); fmt.Sprint(ids) != fmt.Sprint([]int64{id}) {
		t.Fatalf("due at the retry time: %v", ids)
	}
	if err := s.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r2@remote.test", State: mailstore.RcptDelivered}}); err != nil {
		t.Fatal(err)
	}
	done, err = s.QueueSettle(ctx, id, mailstore.Settle{Attempted: true})
	if err != nil || !done {
		t.Fatalf("settle the last recipient: %v %v", done, err)
	}
	if _, err := s.QueueEntry(ctx, id); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("a settled entry remains: %v", err)
	}
	if n, _ := s.QueueLen(ctx); n != 0 {
		t.Fatalf("queue length %d", n)
	}
	if err := s.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r2@remote.test", State: mailstore.RcptDelivered}}); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("record on a removed entry: %v", err)
	}
	if _, err := s.QueueSettle(ctx, id, mailstore.Settle{Attempted: true}); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("settle a removed entry: %v", err)
	}
	// The local copy keeps the body.
	_, msgs := mailbox(t, s, u, "INBOX")
	if got := readBody(t, s, msgs[0].BodyID); string(got) != "Subject: out\r\n\r\nhello\r\n" {
		t.Fatalf("body %q", got)
	}
	checkConsistent(t, s)
}

func testQueueBounce(t *testing.T, open Opener) {
	ctx := t.Context()
	c := newClock()
	s := open(t, mailstore.Options{Now: c.Now})
	u := addUser(t, s, "b@x.test")
	id := spool(t, s, "b@x.test", nil, "gone@remote.test", "slow@remote.test")
	due(t, s, c.now)
	if err := s.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "gone@remote.test", State: mailstore.RcptBouncing, LastError: "550 no such user"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.QueueSettle(ctx, id, mailstore.Settle{Bounce: &mailstore.Bounce{Body: []byte("x"), Local: &mailstore.Target{UserID: u.ID}, Remote: "a@b.test"}}); err == nil {
		t.Fatal("a bounce with two destinations was accepted")
	}
	dsn := []byte("Subject: Undelivered Mail\r\n\r\ngone@remote.test: 550 no such user\r\n")
	// A recipient named twice is settled once (mailstore.Settle.BouncedOnce).
	done, err := s.QueueSettle(ctx, id, mailstore.Settle{Attempted: true, LastError: "550", Bounced: []string{"gone@remote.test", "gone@remote.test"},
		Bounce: &mailstore.Bounce{Body: dsn, Local: &mailstore.Target{UserID: u.ID}}})
	if err != nil || done {
		t.Fatalf("settle a bounce: %v %v", done, err)
	}
	_, msgs := mailbox(t, s, u, "INBOX")
	if len(msgs) != 1 || string(readBody(t, s, msgs[0].BodyID)) != string(dsn) {
		t.Fatalf("the DSN is not in the sender's INBOX: %+v", msgs)
	}
	e, _ := s.QueueEntry(ctx, id)
	if rcptStates(e) != "[gone@remote.test=failed(550 no such user) slow@remote.test=pending()]" {
		t.Fatalf("after bounce: %s", rcptStates(e))
	}
	// Settling the same bounce again fails as a whole: no second DSN.
	if _, err := s.QueueSettle(ctx, id, mailstore.Settle{Bounced: []string{"gone@remote.test"},
		Bounce: &mailstore.Bounce{Body: dsn, Local: &mailstore.Target{UserID: u.ID}}}); err == nil {
		t.Fatal("a bounce was settled twice")
	}
	if _, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 1 {
		t.Fatalf("%d DSNs stored", len(msgs))
	}
	// One delay warning per entry, here to a remote sender: a spool entry with the null sender.
	due(t, s, c.now)
	warn := &mailstore.Bounce{Body: []byte("Subject: Delayed\r\n\r\n"), Remote: "sender@remote.test"}
	for i := 0; i < 2; i++ {
		if _, err := s.QueueSettle(ctx, id, mailstore.Settle{Warning: warn}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := s.QueueEntries(ctx)
	if len(all) != 2 || !all[0].Warned || all[1].Sender != "" || rcptStates(all[1]) != "[sender@remote.test=pending()]" || all[1].Warned {
		t.Fatalf("after warnings: %+v", all)
	}
	if string(readBody(t, s, all[1].BodyID)) != "Subject: Delayed\r\n\r\n" {
		t.Fatal("warning body")
	}
	checkConsistent(t, s)
}

func testQueueAdmin(t *testing.T, open Opener) {
	ctx := t.Context()
	c := newClock()
	s := open(t, mailstore.Options{Now: c.Now})
	a := spool(t, s, "", nil, "a@remote.test")
	c.now = c.now.Add(time.Minute)
	b := spool(t, s, "", nil, "b@remote.test")
	if ids := due(t, s, c.now); fmt.Sprint(ids) != fmt.Sprint([]int64{a, b}) {
		t.Fatalf("due %v, want soonest first [%d %d]", ids, a, b)
	}
	if err := s.QueueSetHeld(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	if ids := due(t, s, c.now); fmt.Sprint(ids) != fmt.Sprint([]int64{b}) {
		t.Fatalf("a held entry is due: %v", ids)
	}
	if err := s.QueueRetry(ctx, a, c.now); !errors.Is(err, mailstore.ErrQueueHeld) {
		t.Fatalf("retry a held entry: %v", err)
	}
	if e, _ := s.QueueEntry(ctx, a); !e.Held {
		t.Fatal("not held")
	}
	if err := s.QueueSetHeld(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	later := c.now.Add(time.Hour)
	due(t, s, c.now)
	for _, id := range []int64{a, b} {
		if _, err := s.QueueSettle(ctx, id, mailstore.Settle{Attempted: true, NextAttempt: later}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.QueueRetry(ctx, b, c.now); err != nil {
		t.Fatal(err)
	}
	if ids := due(t, s, c.now); fmt.Sprint(ids) != fmt.Sprint([]int64{b}) {
		t.Fatalf("after retry: %v", ids)
	}
	if n, err := s.QueueFlush(ctx, c.now); err != nil || n != 1 {
		t.Fatalf("flush changed %d (%v), want 1", n, err)
	}
	if ids := due(t, s, c.now); len(ids) != 2 {
		t.Fatalf("after flush: %v", ids)
	}
	if err := s.QueueDelete(ctx, a); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"delete": s.QueueDelete(ctx, a), "hold": s.QueueSetHeld(ctx, a, true), "retry": s.QueueRetry(ctx, a, c.now),
	} {
		if !errors.Is(err, mailstore.ErrNotFound) {
			t.Errorf("%s a deleted entry: %v", name, err)
		}
	}
	if _, err := s.QueueEntry(ctx, a); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("deleted entry: %v", err)
	}
	if all, _ := s.QueueEntries(ctx); len(all) != 1 || all[0].ID != b {
		t.Fatalf("entries %+v", all)
	}
}
