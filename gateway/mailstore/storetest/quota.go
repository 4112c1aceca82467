package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// QuotaStore keeps per-account storage usage and limits and enforces them (mailstore's
// "Storage quotas").
type QuotaStore interface {
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
	SetQuota(ctx context.Context, addr address.Address, limit int64) error
}

// quotaStore opens a store with the given default limit that keeps quotas.
func quotaStore(t *testing.T, open Opener, def int64) (Store, QuotaStore) {
	t.Helper()
	s := open(t, mailstore.Options{DefaultQuota: def})
	qs, ok := s.(QuotaStore)
	if !ok {
		t.Fatal("the store keeps no quotas")
	}
	return s, qs
}

func quotaOf(t *testing.T, qs QuotaStore, userID int64) mailstore.Quota {
	t.Helper()
	q, err := qs.Quota(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// usedByListing is what an account's messages take, counted the slow way.
func usedByListing(t *testing.T, s Store, userID int64) int64 {
	t.Helper()
	mbs, err := s.Mailboxes(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, mb := range mbs {
		msgs, err := s.Messages(context.Background(), mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			n += m.Size
		}
	}
	return n
}

// sized is a message of exactly n bytes.
func sized(n int) string {
	head := "Subject: q\r\n\r\n"
	return head + strings.Repeat("x", n-len(head))
}

// testQuotaUsage: the counter follows every way messages come and go.
func testQuotaUsage(t *testing.T, open Opener) {
	ctx := t.Context()
	s, qs := quotaStore(t, open, 0)
	u := addUser(t, s, "usage@x.test")
	other := addUser(t, s, "other@x.test")
	check := func(step string, want int64) {
		t.Helper()
		q := quotaOf(t, qs, u.ID)
		if q.Used != want || q.Used != usedByListing(t, s, u.ID) || q.Limit != 0 || q.Own {
			t.Fatalf("%s: quota %+v, want %d used (listing: %d)", step, q, want, usedByListing(t, s, u.ID))
		}
	}
	check("new account", 0)
	deliver(t, s, sized(100), mailstore.Target{UserID: u.ID}, mailstore.Target{UserID: other.ID})
	deliver(t, s, sized(200), mailstore.Target{UserID: u.ID, Mailbox: "Archive"})
	check("delivered", 300)
	if q := quotaOf(t, qs, other.ID); q.Used != 100 {
		t.Fatalf("other account %+v", q)
	}
	inbox, _ := mailbox(t, s, u, "INBOX")
	if _, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: inbox.ID, Body: msgbuf.FromBytes([]byte(sized(50)))}); err != nil {
		t.Fatal(err)
	}
	check("appended", 350)
	big, _ := bigBody(t, mailstore.InlineLimit+1000)
	if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: big, Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	check("large body", 350+big.Size())
	archive, _ := mailbox(t, s, u, "Archive")
	if _, err := s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	check("copied", 500+big.Size())
	trash, _ := mailbox(t, s, u, "Trash")
	if _, err := s.CopyMessages(ctx, archive.ID, trash.ID, []uint32{1}, true); err != nil {
		t.Fatal(err)
	}
	check("moved", 500+big.Size())
	if err := s.SetFlags(ctx, inbox.ID, []uint32{3}, mailstore.FlagDeleted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpungeDeleted(ctx, inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	check("expunged", 500)
	if err := s.Expunge(ctx, inbox.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	check("expunged by UID", 400)
	if err := s.DeleteMailbox(ctx, u.ID, "Archive"); err != nil {
		t.Fatal(err)
	}
	check("mailbox deleted", 250)
	if err := s.RenameMailbox(ctx, u.ID, "INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	check("INBOX renamed", 250)
	if q := quotaOf(t, qs, other.ID); q.Used != 100 {
		t.Fatalf("other account changed with this one: %+v", q)
	}
	if err := s.DeleteUser(ctx, mustAddr(t, "usage@x.test")); err != nil {
		t.Fatal(err)
	}
	if q := quotaOf(t, qs, u.ID); q.Used != 0 {
		t.Fatalf("deleted account %+v", q)
	}
	checkConsistent(t, s)
}

// testQuotaLimits: the default, an account's own limit, unlimited, and back to the default.
func testQuotaLimits(t *testing.T, open Opener) {
	ctx := t.Context()
	s, qs := quotaStore(t, open, 1000)
	u := addUser(t, s, "limits@x.test")
	if q := quotaOf(t, qs, u.ID); q.Limit != 1000 || q.Own || q.Used != 0 || q.Over() || !q.Fits(1000) || q.Fits(1001) {
		t.Fatalf("default %+v", q)
	}
	addr := mustAddr(t, "LIMITS@x.test")
	for _, c := range []struct {
		set   int64
		limit int64
		own   bool
	}{{5000, 5000, true}, {mailstore.QuotaUnlimited, 0, true}, {mailstore.QuotaDefault, 1000, false}} {
		if err := qs.SetQuota(ctx, addr, c.set); err != nil {
			t.Fatal(err)
		}
		if q := quotaOf(t, qs, u.ID); q.Limit != c.limit || q.Own != c.own {
			t.Fatalf("set %d: %+v", c.set, q)
		}
	}
	if err := qs.SetQuota(ctx, mustAddr(t, "nobody@x.test"), 10); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("limit of a missing account: %v", err)
	}
	// Unlimited lifts the default.
	if err := qs.SetQuota(ctx, addr, mailstore.QuotaUnlimited); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, sized(3000), mailstore.Target{UserID: u.ID})
	// A limit below the usage keeps what is stored and refuses what comes.
	if err := qs.SetQuota(ctx, addr, 2000); err != nil {
		t.Fatal(err)
	}
	if q := quotaOf(t, qs, u.ID); q.Used != 3000 || !q.Over() {
		t.Fatalf("lowered limit %+v", q)
	}
	_, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes([]byte(sized(20))), Local: []mailstore.Target{{UserID: u.ID}}}}})
	if !errors.Is(err, mailstore.ErrOverQuota) {
		t.Fatalf("delivery past a lowered limit: %v", err)
	}
}

// testQuotaRefusals: a message that would exceed a limit is refused whole, for Deliver,
// Append and CopyMessages; others still get theirs.
func testQuotaRefusals(t *testing.T, open Opener) {
	ctx := t.Context()
	var committed int
	var mu sync.Mutex
	s := open(t, mailstore.Options{DefaultQuota: 1000, OnCommit: func(mailstore.Delivered) { mu.Lock(); committed++; mu.Unlock() }})
	qs, ok := s.(QuotaStore)
	if !ok {
		t.Fatal("the store keeps no quotas")
	}
	full := addUser(t, s, "full@x.test")
	room := addUser(t, s, "room@x.test")
	deliver(t, s, sized(900), mailstore.Target{UserID: full.ID})
	deliver(t, s, sized(1000), mailstore.Target{UserID: room.ID, Mailbox: "Archive"}) // exactly the limit fits
	if err := qs.SetQuota(ctx, mustAddr(t, "room@x.test"), 10_000); err != nil {
		t.Fatal(err)
	}

	// One copy for both, a second copy for the full account: nothing at all is stored.
	d := mailstore.Delivery{Copies: []mailstore.Copy{
		{Body: msgbuf.FromBytes([]byte(sized(150))), Local: []mailstore.Target{{UserID: room.ID}, {UserID: full.ID}},
			Outbound: &mailstore.Outbound{Sender: "a@x.test", Recipients: []string{"r@remote.test"}}},
	}}
	mu.Lock()
	before := committed
	mu.Unlock()
	_, err := s.Deliver(ctx, d)
	var qe *mailstore.QuotaError
	if !errors.Is(err, mailstore.ErrOverQuota) || !errors.As(err, &qe) || fmt.Sprint(qe.UserIDs) != fmt.Sprint([]int64{full.ID}) {
		t.Fatalf("delivery past the limit: %v", err)
	}
	mu.Lock()
	if committed != before {
		t.Error("OnCommit told of a refused delivery")
	}
	mu.Unlock()
	if _, msgs := mailbox(t, s, room, "INBOX"); len(msgs) != 0 {
		t.Fatal("a refused delivery stored a copy for the other recipient")
	}
	if n, _ := s.QueueLen(ctx); n != 0 {
		t.Fatal("a refused delivery spooled its remote copy")
	}
	if q := quotaOf(t, qs, full.ID); q.Used != 900 {
		t.Fatalf("refused delivery counted: %+v", q)
	}
	// Without the full account the same delivery goes through.
	d.Copies[0].Local = d.Copies[0].Local[:1]
	if _, err := s.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	// A large body (a file in the embedded store) refused leaves nothing behind.
	big, _ := bigBody(t, mailstore.InlineLimit+10)
	_, err = s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: big, Local: []mailstore.Target{{UserID: full.ID}}}}})
	if !errors.Is(err, mailstore.ErrOverQuota) {
		t.Fatalf("large delivery past the limit: %v", err)
	}

	inbox, _ := mailbox(t, s, full, "INBOX")
	_, _, err = s.Append(ctx, mailstore.AppendRequest{UserID: full.ID, MailboxID: inbox.ID, Body: msgbuf.FromBytes([]byte(sized(101)))})
	if !errors.Is(err, mailstore.ErrOverQuota) {
		t.Fatalf("append past the limit: %v", err)
	}
	if _, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: full.ID, MailboxID: inbox.ID, Body: msgbuf.FromBytes([]byte(sized(100)))}); err != nil {
		t.Fatalf("append up to the limit: %v", err)
	}
	// At the limit: a copy is refused, a move is not (it takes nothing more).
	archive, _ := mailbox(t, s, full, "Archive")
	if _, err := s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{1}, false); !errors.Is(err, mailstore.ErrOverQuota) {
		t.Fatalf("copy past the limit: %v", err)
	}
	if _, msgs := mailbox(t, s, full, "Archive"); len(msgs) != 0 {
		t.Fatal("a refused copy was stored")
	}
	if res, err := s.CopyMessages(ctx, inbox.ID, archive.ID, []uint32{1}, true); err != nil || len(res.Dest) != 1 {
		t.Fatalf("move at the limit: %+v %v", res, err)
	}
	if q := quotaOf(t, qs, full.ID); q.Used != 1000 || !q.Over() || q.Used != usedByListing(t, s, full.ID) {
		t.Fatalf("after the refusals: %+v", q)
	}
	checkConsistent(t, s)
}

// testQuotaConcurrent: deliveries racing for the last room in an account never take it past
// its limit together.
func testQuotaConcurrent(t *testing.T, open Opener) {
	ctx := t.Context()
	const size, fits, tries = 1000, 10, 40
	s, qs := quotaStore(t, open, fits*size+size/2)
	u := addUser(t, s, "race@x.test")
	other := addUser(t, s, "bystander@x.test")
	if err := qs.SetQuota(ctx, mustAddr(t, "bystander@x.test"), mailstore.QuotaUnlimited); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, refused int
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			targets := []mailstore.Target{{UserID: u.ID}}
			if i%2 == 0 {
				targets = append(targets, mailstore.Target{UserID: other.ID})
			}
			_, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes([]byte(sized(size))), Local: targets}}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, mailstore.ErrOverQuota):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	q := quotaOf(t, qs, u.ID)
	if ok != fits || refused != tries-fits || q.Used != fits*size || q.Used != usedByListing(t, s, u.ID) {
		t.Fatalf("%d stored, %d refused, quota %+v", ok, refused, q)
	}
	checkConsistent(t, s)
}
