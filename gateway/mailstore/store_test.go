package mailstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAddr(t *testing.T, s string) address.Address {
	t.Helper()
	a, err := address.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func addUser(t *testing.T, s *Store, addr string) User {
	t.Helper()
	u, err := s.AddUser(context.Background(), mustAddr(t, addr), "hash")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func readAll(t *testing.T, s *Store, bodyID int64) []byte {
	t.Helper()
	rc, _, err := s.OpenBody(context.Background(), bodyID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func inbox(t *testing.T, s *Store, u User) (Mailbox, []Message) {
	t.Helper()
	mb, err := s.MailboxByName(context.Background(), u.ID, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Messages(context.Background(), mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return mb, msgs
}

func TestUsersAndDefaultMailboxes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	u := addUser(t, s, "Alice@Example.TEST")
	if _, err := s.AddUser(ctx, mustAddr(t, "alice@example.test"), "x"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate user (case-folded): %v, want ErrExists", err)
	}
	got, err := s.UserByAddress(ctx, mustAddr(t, "ALICE@example.test"))
	if err != nil || got.ID != u.ID {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	mbs, err := s.Mailboxes(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	special := map[string]string{}
	uvs := map[uint32]bool{}
	for _, m := range mbs {
		special[m.Name] = m.SpecialUse
		uvs[m.UIDValidity] = true
		if m.UIDNext != 1 {
			t.Errorf("%s UIDNEXT %d", m.Name, m.UIDNext)
		}
	}
	want := map[string]string{"INBOX": "", "Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`, "Archive": `\Archive`}
	if fmt.Sprint(special) != fmt.Sprint(want) {
		t.Fatalf("mailboxes %v, want %v", special, want)
	}
	if len(uvs) != len(mbs) {
		t.Fatal("UIDVALIDITY values repeat")
	}
	if err := s.SetPasswordHash(ctx, mustAddr(t, "alice@EXAMPLE.test"), "new"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, mustAddr(t, "alice@example.test")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByAddress(ctx, mustAddr(t, "alice@example.test")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted user found: %v", err)
	}
	if err := s.DeleteUser(ctx, mustAddr(t, "alice@example.test")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestDeliverSharesBodyAndAssignsUIDs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, b := addUser(t, s, "a@x.test"), addUser(t, s, "b@x.test")
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	for i := 0; i < 3; i++ {
		d, err := s.Deliver(ctx, Delivery{Copies: []Copy{{
			Body:     msgbuf.FromBytes(msg),
			Local:    []Target{{UserID: a.ID}, {UserID: b.ID, Mailbox: "NoSuchFolder"}},
			Outbound: &Outbound{Sender: "a@x.test", Recipients: []string{"r@remote.test"}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Messages) != 2 || d.Messages[0].UID != uint32(i+1) || len(d.QueueIDs) != 1 {
			t.Fatalf("delivery %d: %+v", i, d)
		}
	}
	mb, msgs := inbox(t, s, b)
	if len(msgs) != 3 || mb.UIDNext != 4 {
		t.Fatalf("b INBOX: %d messages, UIDNEXT %d", len(msgs), mb.UIDNext)
	}
	_, amsgs := inbox(t, s, a)
	if amsgs[0].BodyID != msgs[0].BodyID {
		t.Fatal("the copies for a and b do not share one body")
	}
	if got := readAll(t, s, msgs[0].BodyID); !bytes.Equal(got, msg) {
		t.Fatalf("body %q", got)
	}
	q, err := s.QueueEntries(ctx)
	if err != nil || len(q) != 3 || q[0].Recipients[0].Address != "r@remote.test" || q[0].Recipients[0].State != "pending" {
		t.Fatalf("queue %+v %v", q, err)
	}
	// The body lives while the queue entry and b's message reference it.
	if err := s.Expunge(ctx, amsgs[0].MailboxID, []uint32{amsgs[0].UID}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, msgs[0].BodyID); !bytes.Equal(got, msg) {
		t.Fatal("body lost while still referenced")
	}
}

func TestLargeBodyIsFileAndCollected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	u := addUser(t, s, "big@x.test")
	buf := msgbuf.New(msgbuf.Options{Dir: t.TempDir(), MemoryLimit: 4096})
	fmt.Fprintf(buf, "Subject: big\r\n\r\n")
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for buf.Size() <= InlineLimit+10 {
		buf.Write(chunk)
	}
	buf.Finish()
	if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: buf, Local: []Target{{UserID: u.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	_, msgs := inbox(t, s, u)
	got := readAll(t, s, msgs[0].BodyID)
	want, _ := io.ReadAll(buf.NewReader())
	if !bytes.Equal(got, want) || msgs[0].Size != int64(len(want)) {
		t.Fatalf("big body: %d bytes, want %d", len(got), len(want))
	}
	files := blobFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("blob files %v", files)
	}
	if err := s.Expunge(ctx, msgs[0].MailboxID, []uint32{msgs[0].UID}); err != nil {
		t.Fatal(err)
	}
	if files := blobFiles(t, dir); len(files) != 0 {
		t.Fatalf("blob files left after expunge: %v", files)
	}
}

func blobFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestDeliverIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	u := addUser(t, s, "u@x.test")
	_, err := s.Deliver(ctx, Delivery{Copies: []Copy{
		{Body: msgbuf.FromBytes([]byte("a\r\n\r\n")), Local: []Target{{UserID: u.ID}}},
		{Body: msgbuf.FromBytes([]byte("b\r\n\r\n")), Local: []Target{{UserID: 999999}}}, // no such user
	}})
	if err == nil {
		t.Fatal("delivery to a missing user succeeded")
	}
	if _, msgs := inbox(t, s, u); len(msgs) != 0 {
		t.Fatalf("half a delivery is visible: %d messages", len(msgs))
	}
	// The failed request did not disturb others committed with it.
	if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: msgbuf.FromBytes([]byte("c\r\n\r\n")), Local: []Target{{UserID: u.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	if mb, msgs := inbox(t, s, u); len(msgs) != 1 || msgs[0].UID != 1 || mb.UIDNext != 2 {
		t.Fatalf("after rollback: %d messages, first UID %d", len(msgs), msgs[0].UID)
	}
}

func TestConcurrentDeliveriesAndSecondProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	u := addUser(t, s, "c@x.test")
	// A second Store on the same directory stands in for the CLI process.
	other := openTest(t, dir)
	var wg sync.WaitGroup
	const workers, each = 8, 50
	errs := make(chan error, workers*each+10)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := []byte(fmt.Sprintf("X-N: %d-%d\r\n\r\n", w, i))
				if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: msgbuf.FromBytes(body), Local: []Target{{UserID: u.ID}}}}}); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	for i := 0; i < 10; i++ {
		if _, err := other.AddUser(ctx, mustAddr(t, fmt.Sprintf("cli%d@x.test", i)), "h"); err != nil {
			errs <- err
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_, msgs := inbox(t, other, u)
	if len(msgs) != workers*each {
		t.Fatalf("%d messages, want %d", len(msgs), workers*each)
	}
	seen := map[uint32]bool{}
	for i, m := range msgs {
		if seen[m.UID] || (i > 0 && m.UID <= msgs[i-1].UID) {
			t.Fatalf("UIDs not unique and ascending at %d", i)
		}
		seen[m.UID] = true
	}
	users, _ := s.Users(ctx)
	if len(users) != 11 {
		t.Fatalf("%d users", len(users))
	}
}

func TestValidMailboxName(t *testing.T) {
	good := []string{"INBOX", "Work/Projects", "Ünïcode", "a b"}
	bad := []string{"", "/abs", "a//b", "../x", "a/../b", "a/./b", "x\x00", "tab\there", "trail/", " lead", strings255()}
	for _, n := range good {
		if !ValidMailboxName(n) {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range bad {
		if ValidMailboxName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func strings255() string { return string(bytes.Repeat([]byte("a"), 256)) }

func BenchmarkDeliver10KiB(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u, _ := s.AddUser(ctx, address.Address{Local: "b", Domain: "x.test"}, "h")
	body := append([]byte("Subject: bench\r\n\r\n"), bytes.Repeat([]byte("x"), 10240)...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(10) // 20 goroutines on 2 cores, like 20 SMTP sessions
	commits := s.commits.Load()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: msgbuf.FromBytes(body), Local: []Target{{UserID: u.ID}}}}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(s.commits.Load()-commits), "msgs/commit")
}

func TestCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	u := addUser(t, s, "chk@x.test")
	big := msgbuf.FromBytes(append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("z"), InlineLimit+1)...))
	if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{
		{Body: msgbuf.FromBytes([]byte("Subject: a\r\n\r\nb\r\n")), Local: []Target{{UserID: u.ID}}, Outbound: &Outbound{Sender: "chk@x.test", Recipients: []string{"r@remote.test"}}},
		{Body: big, Local: []Target{{UserID: u.ID}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("a healthy store: %v %v", probs, err)
	}
	// Damage it behind the store's back.
	for _, f := range blobFiles(t, dir) {
		os.Truncate(f, 10)
	}
	if _, err := s.wdb.Exec(`UPDATE bodies SET refs = refs + 1 WHERE path IS NULL`); err != nil {
		t.Fatal(err)
	}
	probs, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	joined := fmt.Sprint(probs)
	if len(probs) != 2 || !strings.Contains(joined, "reference count 3, but 2 references") || !strings.Contains(joined, "has 10 bytes") {
		t.Fatalf("problems %v", probs)
	}
}
