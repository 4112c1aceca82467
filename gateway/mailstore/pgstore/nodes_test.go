package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// wait is how long a test waits for something another node should see within a second.
const wait = 10 * time.Second

func addUser(t testing.TB, s *pgstore.Store, addr string) mailstore.User {
	t.Helper()
	a, err := address.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.AddUser(context.Background(), a, "hash")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func deliver(t *testing.T, s *pgstore.Store, userID int64, body string) mailstore.Delivered {
	t.Helper()
	d, err := s.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
		Body: msgbuf.FromBytes([]byte(body)), Local: []mailstore.Target{{UserID: userID}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("%s did not arrive within %s", what, wait)
		panic("unreachable")
	}
}

// TestDeliveryReachesOtherNode: a delivery on one node reaches the other's OnCommit; a node
// does not hear its own deliveries twice.
func TestDeliveryReachesOtherNode(t *testing.T) {
	dsn := newDB(t)
	aGot, bGot := make(chan mailstore.Delivered, 10), make(chan mailstore.Delivered, 10)
	a := openNode(t, dsn, pgstore.Options{Node: "a", OnCommit: func(d mailstore.Delivered) { aGot <- d }})
	b := openNode(t, dsn, pgstore.Options{Node: "b", OnCommit: func(d mailstore.Delivered) { bGot <- d }})
	u := addUser(t, a, "n@x.test")

	d, err := a.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
		Body: msgbuf.FromBytes([]byte("Subject: hi\r\n\r\nx\r\n")), Local: []mailstore.Target{{UserID: u.ID}, {UserID: u.ID, Mailbox: "Archive"}},
		Outbound: &mailstore.Outbound{Sender: "n@x.test", Recipients: []string{"r@remote.test"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, bGot, "a's delivery at b"); fmt.Sprint(got) != fmt.Sprint(d) {
		t.Fatalf("b heard %+v, a delivered %+v", got, d)
	}
	if got := receive(t, aGot, "a's own OnCommit"); fmt.Sprint(got) != fmt.Sprint(d) {
		t.Fatalf("a's OnCommit got %+v", got)
	}
	// Notifications reach a listener in commit order: once a has heard b's delivery, it has
	// had (and skipped) the notification of its own.
	d2 := deliver(t, b, u.ID, "second\r\n\r\n")
	receive(t, bGot, "b's own OnCommit")
	if got := receive(t, aGot, "b's delivery at a"); fmt.Sprint(got) != fmt.Sprint(d2) {
		t.Fatalf("a heard %+v, b delivered %+v (a heard its own delivery twice?)", got, d2)
	}
}

// TestChangeReachesOtherNode: flags, expunges and mailbox changes made on one node reach
// the other's OnChange with the user's id.
func TestChangeReachesOtherNode(t *testing.T) {
	dsn := newDB(t)
	changed := make(chan int64, 100)
	a := openNode(t, dsn, pgstore.Options{Node: "a"})
	u := addUser(t, a, "c@x.test")
	other := addUser(t, a, "other@x.test")
	openNode(t, dsn, pgstore.Options{Node: "b", OnChange: func(id int64) { changed <- id }})
	deliver(t, a, u.ID, "x\r\n\r\n")
	ctx := context.Background()
	inbox, _ := a.MailboxByName(ctx, u.ID, "INBOX")
	steps := []struct {
		name string
		do   func() error
	}{
		{"flags", func() error {
			_, err := a.UpdateFlags(ctx, inbox.ID, []uint32{1}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen})
			return err
		}},
		{"create", func() error { _, err := a.CreateMailbox(ctx, u.ID, "Work", ""); return err }},
		{"subscribe", func() error { return a.SetSubscribed(ctx, u.ID, "Work", false) }},
		{"copy", func() error {
			work, _ := a.MailboxByName(ctx, u.ID, "Work")
			_, err := a.CopyMessages(ctx, inbox.ID, work.ID, []uint32{1}, true)
			return err
		}},
		{"rename", func() error { return a.RenameMailbox(ctx, u.ID, "Work", "Play") }},
		{"append", func() error {
			_, _, err := a.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: inbox.ID, Body: msgbuf.FromBytes([]byte("a\r\n\r\n"))})
			return err
		}},
		{"expunge", func() error { return a.Expunge(ctx, inbox.ID, []uint32{2}) }},
		{"delete", func() error { return a.DeleteMailbox(ctx, u.ID, "Play") }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		// A change to another user in between shows that b hears the right user.
		if _, err := a.CreateMailbox(ctx, other.ID, "After "+st.name, ""); err != nil {
			t.Fatal(err)
		}
		if id := receive(t, changed, st.name+" at b"); id != u.ID {
			t.Fatalf("%s: b heard user %d, want %d", st.name, id, u.ID)
		}
		if id := receive(t, changed, "the other user's change at b"); id != other.ID {
			t.Fatalf("after %s: b heard user %d, want %d", st.name, id, other.ID)
		}
	}
}

// TestConcurrentDeliveriesOnTwoNodes: nodes delivering at once never assign a UID twice.
func TestConcurrentDeliveriesOnTwoNodes(t *testing.T) {
	dsn := newDB(t)
	storetest.ConcurrentDeliveries(t, openNode(t, dsn, pgstore.Options{Node: "a"}), openNode(t, dsn, pgstore.Options{Node: "b"}))
}

// TestMaildropLockAcrossNodes: the lock excludes sessions on other nodes and is freed when
// the node holding it closes.
func TestMaildropLockAcrossNodes(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	a := openNode(t, dsn, pgstore.Options{Node: "a"})
	b := openNode(t, dsn, pgstore.Options{Node: "b"})
	u := addUser(t, a, "pop@x.test")
	if _, err := a.LockMaildrop(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LockMaildrop(ctx, u.ID); !errors.Is(err, mailstore.ErrInUse) {
		t.Fatalf("lock on b while a holds it: %v, want ErrInUse", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	release, err := b.LockMaildrop(ctx, u.ID)
	if err != nil {
		t.Fatalf("lock on b after a closed: %v", err)
	}
	release()
}

// TestQueueLeases: an entry is leased by one node; a lease that expired is taken over, and
// the old holder can no longer record outcomes for it.
func TestQueueLeases(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	a := openNode(t, dsn, pgstore.Options{Node: "a", Now: clk.Now})
	b := openNode(t, dsn, pgstore.Options{Node: "b", Now: clk.Now})
	var ids []int64
	for i := 0; i < 40; i++ {
		d, err := a.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes([]byte("x\r\n\r\n")),
			Outbound: &mailstore.Outbound{Sender: "s@x.test", Recipients: []string{"r1@remote.test", "r2@remote.test"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.QueueIDs...)
	}
	// Both nodes claim at once: every entry goes to exactly one. A node's own leases are
	// handed to it again, so each asks twice and keeps what it got.
	var got [2][]int64
	var wg sync.WaitGroup
	for i, n := range []*pgstore.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				due, err := n.QueueDue(ctx, clk.Now(), 25)
				if err != nil {
					t.Error(err)
					return
				}
				for _, id := range due {
					if !slices.Contains(got[i], id) {
						got[i] = append(got[i], id)
					}
				}
			}
		}()
	}
	wg.Wait()
	all := append(slices.Clone(got[0]), got[1]...)
	slices.Sort(all)
	if fmt.Sprint(all) != fmt.Sprint(ids) {
		t.Fatalf("claimed %v, want every entry of %v", all, ids)
	}
	for _, id := range got[0] {
		if slices.Contains(got[1], id) {
			t.Fatalf("entry %d leased by both nodes", id)
		}
	}
	leasedToA := got[0]
	if len(leasedToA) == 0 {
		leasedToA = got[1]
		a, b = b, a
	}
	id := leasedToA[0]
	if err := b.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r1@remote.test", State: mailstore.RcptDelivered}}); !errors.Is(err, pgstore.ErrLeaseLost) {
		t.Fatalf("record by the node without the lease: %v, want ErrLeaseLost", err)
	}
	if err := a.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r1@remote.test", State: mailstore.RcptDelivered}}); err != nil {
		t.Fatal(err)
	}
	// a dies; once its lease expires, b takes the entry over.
	if due, _ := b.QueueDue(ctx, clk.Now().Add(pgstore.LeaseDuration-time.Second), 100); slices.Contains(due, id) {
		t.Fatalf("b took entry %d before a's lease expired", id)
	}
	clk.mu.Lock()
	clk.now = clk.now.Add(pgstore.LeaseDuration + time.Second)
	clk.mu.Unlock()
	if due, _ := b.QueueDue(ctx, clk.Now(), 100); !slices.Contains(due, id) {
		t.Fatalf("b did not take over entry %d: %v", id, due)
	}
	if err := a.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r2@remote.test", State: mailstore.RcptDelivered}}); !errors.Is(err, pgstore.ErrLeaseLost) {
		t.Fatalf("record by the node whose lease was taken over: %v, want ErrLeaseLost", err)
	}
	if _, err := a.QueueSettle(ctx, id, mailstore.Settle{Attempted: true}); !errors.Is(err, pgstore.ErrLeaseLost) {
		t.Fatalf("settle by the node whose lease was taken over: %v", err)
	}
	e, _ := b.QueueEntry(ctx, id)
	if e.Recipients[0].State != mailstore.RcptDelivered || e.Recipients[1].State != mailstore.RcptPending {
		t.Fatalf("recipients %+v", e.Recipients)
	}
	if err := b.QueueRecord(ctx, id, []mailstore.QueueRecipient{{Address: "r1@remote.test", State: mailstore.RcptPending}, {Address: "r2@remote.test", State: mailstore.RcptDelivered}}); err != nil {
		t.Fatal(err)
	}
	done, err := b.QueueSettle(ctx, id, mailstore.Settle{Attempted: true})
	if err != nil || !done {
		t.Fatalf("settle: %v %v", done, err)
	}
}

// TestListenerReconnects: when the listening connection is cut, the node listens again and
// tells OnChange about every user, since it may have missed changes.
func TestListenerReconnects(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	changed := make(chan int64, 100)
	delivered := make(chan mailstore.Delivered, 10)
	a := openNode(t, dsn, pgstore.Options{Node: "a"})
	u := addUser(t, a, "l@x.test")
	b := openNode(t, dsn, pgstore.Options{Node: "b", OnChange: func(id int64) { changed <- id }, OnCommit: func(d mailstore.Delivered) { delivered <- d }})
	pid, err := b.ListenerPID(ctx)
	if err != nil || pid == 0 {
		t.Fatalf("listener pid %d %v", pid, err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if id := receive(t, changed, "the resync after reconnecting"); id != u.ID {
		t.Fatalf("resync for user %d, want %d", id, u.ID)
	}
	d := deliver(t, a, u.ID, "after\r\n\r\n")
	if got := receive(t, delivered, "a delivery after reconnecting"); fmt.Sprint(got) != fmt.Sprint(d) {
		t.Fatalf("heard %+v, want %+v", got, d)
	}
}

// TestSchemaVersion: Open refuses a database without the schema or with a newer one, and
// says what to do.
func TestSchemaVersion(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatalf("migrate twice: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.Open(ctx, dsn, pgstore.Options{}); !errors.Is(err, mailstore.ErrSchemaVersion) {
		t.Fatalf("open a newer schema: %v, want ErrSchemaVersion", err)
	}
	if err := pgstore.Migrate(ctx, dsn); !errors.Is(err, mailstore.ErrSchemaVersion) {
		t.Fatalf("migrate a newer schema: %v, want ErrSchemaVersion", err)
	}
	if _, err := conn.Exec(ctx, `DROP TABLE schema_version`); err != nil {
		t.Fatal(err)
	}
	_, err = pgstore.Open(ctx, dsn, pgstore.Options{})
	if !errors.Is(err, pgstore.ErrSchemaOld) || !strings.Contains(err.Error(), "sealgate db migrate") {
		t.Fatalf("open without a schema version: %v", err)
	}
}

// TestPolicyCacheSeesOtherNode: settings are cached, and a change made on another node (or
// by the CLI) is seen by the next read.
func TestPolicyCacheSeesOtherNode(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	server := openNode(t, dsn, pgstore.Options{})
	cli := openNode(t, dsn, pgstore.Options{})
	for _, v := range []string{"pgp", "smime", "", "pgp"} {
		if err := cli.SetPolicy(ctx, "bob@example.test", map[string]string{"inbound.encrypt": v}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second read comes from the cache
			p, err := server.PolicySettings(ctx)
			if err != nil || p["bob@example.test"]["inbound.encrypt"] != v {
				t.Fatalf("after setting %q the server reads %v (%v)", v, p, err)
			}
		}
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
