package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

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
