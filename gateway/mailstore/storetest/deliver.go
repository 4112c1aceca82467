package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func testUsers(t *testing.T, s Store) {
	ctx := t.Context()
	if _, err := s.FirstUser(ctx); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("first user of an empty store: %v", err)
	}
	u := addUser(t, s, "Alice@Example.TEST")
	if _, err := s.AddUser(ctx, mustAddr(t, "alice@example.test"), "x"); !errors.Is(err, mailstore.ErrExists) {
		t.Fatalf("duplicate user (case-folded): %v, want ErrExists", err)
	}
	addUser(t, s, "bob@example.test")
	got, err := s.UserByAddress(ctx, mustAddr(t, "ALICE@example.test"))
	if err != nil || got.ID != u.ID || got.Address != u.Address || got.PasswordHash != "hash" {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	// FirstUser reads the whole account as Users does, creation time included.
	if first, err := s.FirstUser(ctx); err != nil || first.ID != u.ID || first.Address != u.Address || !first.Created.Equal(u.Created) {
		t.Fatalf("first user %+v %v", first, err)
	}
	mbs, err := s.Mailboxes(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	special := map[string]string{}
	uvs := map[uint32]bool{}
	var names []string
	for _, m := range mbs {
		special[m.Name] = m.SpecialUse
		uvs[m.UIDValidity] = true
		names = append(names, m.Name)
		if m.UIDNext != 1 || !m.Subscribed || m.UserID != u.ID {
			t.Errorf("%s: %+v", m.Name, m)
		}
	}
	want := map[string]string{"INBOX": "", "Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`, "Archive": `\Archive`}
	if fmt.Sprint(special) != fmt.Sprint(want) {
		t.Fatalf("mailboxes %v, want %v", special, want)
	}
	if fmt.Sprint(names) != "[Archive Drafts INBOX Junk Sent Trash]" {
		t.Fatalf("mailboxes not ordered by name: %v", names)
	}
	if len(uvs) != len(mbs) {
		t.Fatal("UIDVALIDITY values repeat")
	}
	if err := s.SetPasswordHash(ctx, mustAddr(t, "alice@EXAMPLE.test"), "new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByAddress(ctx, mustAddr(t, "alice@example.test")); got.PasswordHash != "new" {
		t.Fatalf("password hash %q", got.PasswordHash)
	}
	if err := s.SetPasswordHash(ctx, mustAddr(t, "nobody@example.test"), "x"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("password of a missing user: %v", err)
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 2 || users[0].ID != u.ID {
		t.Fatalf("users %+v %v", users, err)
	}
	deliver(t, s, "Subject: x\r\n\r\ny\r\n", mailstore.Target{UserID: u.ID})
	if err := s.DeleteUser(ctx, mustAddr(t, "alice@example.test")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByAddress(ctx, mustAddr(t, "alice@example.test")); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("deleted user found: %v", err)
	}
	if mbs, _ := s.Mailboxes(ctx, u.ID); len(mbs) != 0 {
		t.Fatalf("a deleted user's mailboxes remain: %v", mbs)
	}
	if err := s.DeleteUser(ctx, mustAddr(t, "alice@example.test")); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	again := addUser(t, s, "alice@example.test")
	mbs, _ = s.Mailboxes(ctx, again.ID)
	for _, m := range mbs {
		if uvs[m.UIDValidity] {
			t.Fatalf("UIDVALIDITY %d reused after the user was deleted and added again", m.UIDValidity)
		}
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("check after deleting a user: %v %v", probs, err)
	}
}

func testDeliverSharesBody(t *testing.T, s Store) {
	ctx := t.Context()
	a, b := addUser(t, s, "a@x.test"), addUser(t, s, "b@x.test")
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	for i := 0; i < 3; i++ {
		d, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{
			Body:     msgbuf.FromBytes(msg),
			Local:    []mailstore.Target{{UserID: a.ID}, {UserID: b.ID, Mailbox: "NoSuchFolder"}},
			Outbound: &mailstore.Outbound{Sender: "a@x.test", Recipients: []string{"r@remote.test"}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Messages) != 2 || d.Messages[0].UID != uint32(i+1) || d.Messages[1].UID != uint32(i+1) || len(d.QueueIDs) != 1 ||
			d.Messages[0].UserID != a.ID || d.Messages[1].UserID != b.ID {
			t.Fatalf("delivery %d: %+v", i, d)
		}
	}
	mb, msgs := mailbox(t, s, b, "INBOX")
	if len(msgs) != 3 || mb.UIDNext != 4 {
		t.Fatalf("b INBOX: %d messages, UIDNEXT %d", len(msgs), mb.UIDNext)
	}
	_, amsgs := mailbox(t, s, a, "inbox")
	if amsgs[0].BodyID != msgs[0].BodyID {
		t.Fatal("the copies for a and b do not share one body")
	}
	if got := readBody(t, s, msgs[0].BodyID); !bytes.Equal(got, msg) {
		t.Fatalf("body %q", got)
	}
	if msgs[0].Size != int64(len(msg)) || msgs[0].InternalDate.IsZero() || msgs[0].Flags != 0 {
		t.Fatalf("message %+v", msgs[0])
	}
	q, err := s.QueueEntries(ctx)
	if err != nil || len(q) != 3 || q[0].Recipients[0].Address != "r@remote.test" || q[0].Recipients[0].State != mailstore.RcptPending ||
		q[0].Sender != "a@x.test" || q[0].BodyID != msgs[0].BodyID {
		t.Fatalf("queue %+v %v", q, err)
	}
	// The body lives while the queue entry and b's message reference it.
	if err := s.Expunge(ctx, amsgs[0].MailboxID, []uint32{amsgs[0].UID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(ctx, msgs[0].MailboxID, []uint32{msgs[0].UID}); err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, s, msgs[0].BodyID); !bytes.Equal(got, msg) {
		t.Fatal("body lost while still referenced by the spool")
	}
	if err := s.QueueDelete(ctx, q[0].ID); err != nil {
		t.Fatal(err)
	}
	bodyGone(t, s, msgs[0].BodyID, "body without references")
	checkConsistent(t, s)
}

func testDeliverAllOrNothing(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "u@x.test")
	_, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{
		{Body: msgbuf.FromBytes([]byte("a\r\n\r\n")), Local: []mailstore.Target{{UserID: u.ID}},
			Outbound: &mailstore.Outbound{Sender: "u@x.test", Recipients: []string{"r@remote.test"}}},
		{Body: msgbuf.FromBytes([]byte("b\r\n\r\n")), Local: []mailstore.Target{{UserID: 999999}}}, // no such user
	}})
	if !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("delivery to a missing user: %v, want ErrNotFound", err)
	}
	if _, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 0 {
		t.Fatalf("half a delivery is visible: %d messages", len(msgs))
	}
	if n, _ := s.QueueLen(ctx); n != 0 {
		t.Fatalf("half a delivery is spooled: %d entries", n)
	}
	if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes([]byte("x\r\n\r\n"))}}}); err == nil {
		t.Fatal("a copy without recipients was accepted")
	}
	deliver(t, s, "c\r\n\r\n", mailstore.Target{UserID: u.ID})
	if mb, msgs := mailbox(t, s, u, "INBOX"); len(msgs) != 1 || msgs[0].UID != 1 || mb.UIDNext != 2 {
		t.Fatalf("after rollback: %d messages, UIDNEXT %d", len(msgs), mb.UIDNext)
	}
	checkConsistent(t, s)
}

func testDeliverFallsBackToInbox(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "f@x.test")
	d := deliver(t, s, "a\r\n\r\n", mailstore.Target{UserID: u.ID, Mailbox: "Junk"}, mailstore.Target{UserID: u.ID, Mailbox: "Gone"})
	junk, _ := s.MailboxByName(ctx, u.ID, "Junk")
	inbox, _ := s.MailboxByName(ctx, u.ID, "INBOX")
	if d.Messages[0].MailboxID != junk.ID || d.Messages[1].MailboxID != inbox.ID {
		t.Fatalf("delivered to %+v; Junk is %d, INBOX %d", d.Messages, junk.ID, inbox.ID)
	}
}

func testConcurrentDeliveries(t *testing.T, s Store) { ConcurrentDeliveries(t, s, s) }

// ConcurrentDeliveries delivers to one account from several goroutines on each of stores,
// handles on the same data (another process, another node, or one store given twice), each
// message to INBOX and Archive, while the last handle adds accounts. Every message arrives,
// with unique and dense UIDs in both mailboxes, and every handle sees them all.
func ConcurrentDeliveries(t *testing.T, stores ...Store) {
	ctx := t.Context()
	u := addUser(t, stores[0], "c@x.test")
	var wg sync.WaitGroup
	const workers, each = 8, 25
	errs := make(chan error, workers*each+10)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				body := []byte(fmt.Sprintf("X-N: %d-%d\r\n\r\n", w, i))
				if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes(body),
					Local: []mailstore.Target{{UserID: u.ID}, {UserID: u.ID, Mailbox: "Archive"}}}}}); err != nil {
					errs <- err
				}
			}
		})
	}
	cli := stores[len(stores)-1]
	for i := range 10 {
		if _, err := cli.AddUser(ctx, mustAddr(t, fmt.Sprintf("cli%d@x.test", i)), "h"); err != nil {
			errs <- err
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range stores {
		for _, name := range []string{"INBOX", "Archive"} {
			mb, msgs := mailbox(t, s, u, name)
			if len(msgs) != workers*each || mb.UIDNext != workers*each+1 {
				t.Fatalf("%s: %d messages, UIDNEXT %d, want %d", name, len(msgs), mb.UIDNext, workers*each)
			}
			for i, m := range msgs {
				if m.UID != uint32(i+1) {
					t.Fatalf("%s: UID %d at %d: UIDs not unique and dense", name, m.UID, i)
				}
			}
		}
		if users, err := s.Users(ctx); err != nil || len(users) != 11 {
			t.Fatalf("%d users, want 11: %v", len(users), err)
		}
	}
	checkConsistent(t, stores[0])
}

func testOnCommit(t *testing.T, open Opener) {
	got := make(chan mailstore.Delivered, 10)
	s := open(t, mailstore.Options{OnCommit: func(d mailstore.Delivered) { got <- d }})
	u := addUser(t, s, "o@x.test")
	d, err := s.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
		Body: msgbuf.FromBytes([]byte("a\r\n\r\n")), Local: []mailstore.Target{{UserID: u.ID}},
		Outbound: &mailstore.Outbound{Sender: "o@x.test", Recipients: []string{"r@remote.test"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	// OnCommit has run by the time Deliver returns.
	select {
	case c := <-got:
		if fmt.Sprint(c) != fmt.Sprint(d) {
			t.Fatalf("OnCommit got %+v, Deliver returned %+v", c, d)
		}
	default:
		t.Fatal("OnCommit was not called before Deliver returned")
	}
}

func testLargeBody(t *testing.T, s Store) {
	ctx := t.Context()
	u := addUser(t, s, "big@x.test")
	buf, want := bigBody(t, 3*mailstore.InlineLimit+12345)
	small := []byte("Subject: small\r\n\r\nx\r\n")
	if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{
		{Body: buf, Local: []mailstore.Target{{UserID: u.ID}}, Outbound: &mailstore.Outbound{Sender: "big@x.test", Recipients: []string{"r@remote.test"}}},
		{Body: msgbuf.FromBytes(small), Local: []mailstore.Target{{UserID: u.ID}}},
	}}); err != nil {
		t.Fatal(err)
	}
	_, msgs := mailbox(t, s, u, "INBOX")
	if len(msgs) != 2 || msgs[0].Size != int64(len(want)) {
		t.Fatalf("messages %+v", msgs)
	}
	if got := readBody(t, s, msgs[0].BodyID); !bytes.Equal(got, want) {
		t.Fatalf("big body: %d bytes differ from the %d delivered", len(got), len(want))
	}
	inline, err := s.InlineBodies(ctx, []int64{msgs[0].BodyID, msgs[1].BodyID, 987654321})
	if err != nil || len(inline) != 1 || !bytes.Equal(inline[msgs[1].BodyID], small) {
		t.Fatalf("inline bodies: %d %v", len(inline), err)
	}
	checkConsistent(t, s)
	// Appended too.
	buf2, want2 := bigBody(t, mailstore.InlineLimit+1)
	_, uid, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: msgs[0].MailboxID, Body: buf2})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.MessagesInRange(ctx, msgs[0].MailboxID, uid, uid)
	if got := readBody(t, s, after[0].BodyID); !bytes.Equal(got, want2) {
		t.Fatal("appended big body differs")
	}
	if err := s.Expunge(ctx, msgs[0].MailboxID, []uint32{msgs[0].UID, uid}); err != nil {
		t.Fatal(err)
	}
	bodyGone(t, s, after[0].BodyID, "expunged big body")
	if got := readBody(t, s, msgs[0].BodyID); !bytes.Equal(got, want) {
		t.Fatal("big body lost while the spool references it")
	}
}

func testAppend(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := addUser(t, s, "ap@x.test"), addUser(t, s, "other@x.test")
	drafts, _ := s.MailboxByName(ctx, u.ID, "Drafts")
	body := []byte("Subject: draft\r\n\r\ntext\r\n")
	uv, uid, err := s.Append(ctx, mailstore.AppendRequest{UserID: u.ID, MailboxID: drafts.ID, Body: msgbuf.FromBytes(body),
		Flags: mailstore.FlagDraft | mailstore.FlagSeen, Keywords: []string{"$Label1", "", "$label1", "Work"}})
	if err != nil || uv != drafts.UIDValidity || uid != 1 {
		t.Fatalf("append: %d %d %v", uv, uid, err)
	}
	_, msgs := mailbox(t, s, u, "Drafts")
	if len(msgs) != 1 || msgs[0].Flags != mailstore.FlagDraft|mailstore.FlagSeen || fmt.Sprint(msgs[0].Keywords) != "[$Label1 Work]" {
		t.Fatalf("appended %+v", msgs)
	}
	if got := readBody(t, s, msgs[0].BodyID); !bytes.Equal(got, body) {
		t.Fatalf("body %q", got)
	}
	if _, _, err := s.Append(ctx, mailstore.AppendRequest{UserID: other.ID, MailboxID: drafts.ID, Body: msgbuf.FromBytes(body)}); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("append to another user's mailbox: %v, want ErrNotFound", err)
	}
	if _, msgs := mailbox(t, s, u, "Drafts"); len(msgs) != 1 {
		t.Fatal("a failed append left a message")
	}
	checkConsistent(t, s)
}

func testAliases(t *testing.T, s Store) {
	ctx := t.Context()
	if err := s.SetAlias(ctx, "sales@x.test", mailstore.Alias{Address: "Sales@x.test", Targets: []string{"a@x.test", "b@x.test"}}, nil); err != nil {
		t.Fatal(err)
	}
	a, err := s.AliasByKey(ctx, "sales@x.test")
	if err != nil || a.Address != "Sales@x.test" || fmt.Sprint(a.Targets) != "[a@x.test b@x.test]" {
		t.Fatalf("alias %+v %v", a, err)
	}
	refuse := errors.New("loop")
	var seen map[string]mailstore.Alias
	err = s.SetAlias(ctx, "@x.test", mailstore.Alias{Address: "@x.test", Targets: []string{"sales@x.test"}}, func(all map[string]mailstore.Alias) error {
		seen = all
		return refuse
	})
	if !errors.Is(err, refuse) || len(seen) != 2 || seen["@x.test"].Targets[0] != "sales@x.test" {
		t.Fatalf("check: %v, saw %v", err, seen)
	}
	if _, err := s.AliasByKey(ctx, "@x.test"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("a refused alias was stored: %v", err)
	}
	if err := s.SetAlias(ctx, "sales@x.test", mailstore.Alias{Address: "sales@x.test", Targets: []string{"c@x.test"}}, func(map[string]mailstore.Alias) error { return nil }); err != nil {
		t.Fatal(err)
	}
	all, err := s.Aliases(ctx)
	if err != nil || len(all) != 1 || fmt.Sprint(all["sales@x.test"].Targets) != "[c@x.test]" {
		t.Fatalf("aliases %v %v", all, err)
	}
	if err := s.DeleteAlias(ctx, "sales@x.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlias(ctx, "sales@x.test"); !errors.Is(err, mailstore.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func testPolicy(t *testing.T, s Store) {
	ctx := t.Context()
	p, err := s.PolicySettings(ctx)
	if err != nil || len(p) != 0 {
		t.Fatalf("fresh policy %v %v", p, err)
	}
	if err := s.SetPolicy(ctx, "global", map[string]string{"inbound.encrypt": "pgp", "outbound.sign": "yes"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicy(ctx, "bob@x.test", map[string]string{"inbound.encrypt": "smime"}); err != nil {
		t.Fatal(err)
	}
	p1, _ := s.PolicySettings(ctx)
	if fmt.Sprint(p1) != "map[bob@x.test:map[inbound.encrypt:smime] global:map[inbound.encrypt:pgp outbound.sign:yes]]" {
		t.Fatalf("policy %v", p1)
	}
	// Unchanged settings come from the cache: the same map.
	p2, _ := s.PolicySettings(ctx)
	if fmt.Sprintf("%p", p1) != fmt.Sprintf("%p", p2) {
		t.Fatal("unchanged settings were read again")
	}
	if err := s.SetPolicy(ctx, "global", map[string]string{"outbound.sign": ""}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PolicySettings(ctx); fmt.Sprint(p["global"]) != "map[inbound.encrypt:pgp]" {
		t.Fatalf("after removing a key: %v", p)
	}
}

func testCheck(t *testing.T, s Store) {
	ctx := t.Context()
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("an empty store: %v %v", probs, err)
	}
	u := addUser(t, s, "chk@x.test")
	big, _ := bigBody(t, mailstore.InlineLimit+100)
	if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{
		{Body: big, Local: []mailstore.Target{{UserID: u.ID}}},
	}}); err != nil {
		t.Fatal(err)
	}
	spool(t, s, "chk@x.test", []mailstore.Target{{UserID: u.ID, Mailbox: "Sent"}}, "r@remote.test")
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("a healthy store: %v %v", probs, err)
	}
}

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
