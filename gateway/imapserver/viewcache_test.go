package imapserver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// viewStore is what the view cache tests need of a store: the IMAP role and what sets a
// mailbox up.
type viewStore interface {
	Store
	mailstore.Deliverer
	AddUser(ctx context.Context, addr address.Address, passwordHash string) (mailstore.User, error)
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) error
}

// TestViewCacheSeesOtherProcess: the cached view of a mailbox is brought up to date with
// changes another process made through its own store handle (flags, keywords, expunges, new
// mail), on the embedded store (two handles on one directory) and on PostgreSQL (two
// gateways sharing a database); without a change the cached view is used as it is.
func TestViewCacheSeesOtherProcess(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		open := func() viewStore {
			s, err := mailstore.Open(filepath.Join(dir, "data"), mailstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		testViewCacheSeesOtherProcess(t, open(), open())
	})
	t.Run("postgresql", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		if err := pgstore.Migrate(context.Background(), dsn); err != nil {
			t.Fatal(err)
		}
		open := func() viewStore {
			s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		testViewCacheSeesOtherProcess(t, open(), open())
	})
}

func testViewCacheSeesOtherProcess(t *testing.T, here, there viewStore) {
	ctx := context.Background()
	addr, _ := address.Parse("view@x.test")
	u, err := here.AddUser(ctx, addr, "hash")
	if err != nil {
		t.Fatal(err)
	}
	deliverN := func(s viewStore, n int) {
		for range n {
			if _, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{
				Body: msgbuf.FromBytes([]byte("Subject: x\r\n\r\nbody\r\n")), Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deliverN(here, 6)
	mb, err := here.MailboxByName(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	c := newViewCache(viewCacheMessages)
	first := checkView(t, c, here, there, mb.ID)
	if again := checkView(t, c, here, there, mb.ID); again != first {
		t.Fatal("an unchanged mailbox was read again")
	}

	// A session's change to its list leaves the cached one alone.
	sel, _, err := c.selected(ctx, here, mb)
	if err != nil {
		t.Fatal(err)
	}
	sel.msgs.set(0, mailstore.FlagFlagged, []string{"mine"})
	if f, kw := first.msgs.state(0); f != 0 || kw != nil {
		t.Fatalf("the cached list changed with a session's: %v %v", f, kw)
	}

	// Another process changes the mailbox.
	if _, err := there.UpdateFlags(ctx, mb.ID, []uint32{2, 3}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagSeen, Keywords: []string{"$Junk"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := there.UpdateFlags(ctx, mb.ID, []uint32{1, 4}, mailstore.FlagChange{Op: mailstore.FlagsAdd, Flags: mailstore.FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := there.ExpungeDeleted(ctx, mb.ID, nil); err != nil {
		t.Fatal(err)
	}
	deliverN(there, 2)
	v := checkView(t, c, here, there, mb.ID)
	if fmt.Sprint(v.msgs.uids) != "[2 3 5 6 7 8]" || v.firstUnseen != 3 || fmt.Sprint(v.keywords) != "[$Junk]" {
		t.Fatalf("view %v, first unseen %d, keywords %v", v.msgs.uids, v.firstUnseen, v.keywords)
	}
	// Every message goes: the view empties.
	if err := there.Expunge(ctx, mb.ID, slices.Clone(v.msgs.uids)); err != nil {
		t.Fatal(err)
	}
	if v := checkView(t, c, here, there, mb.ID); v.msgs.len() != 0 || v.firstUnseen != 0 {
		t.Fatalf("view %v after expunging all", v.msgs.uids)
	}
}

// checkView reads the view through the cache on here and compares it with the mailbox as
// there reads it.
func checkView(t *testing.T, c *viewCache, here, there viewStore, mailboxID int64) *mailboxView {
	t.Helper()
	v, _, err := c.view(context.Background(), here, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := there.Snapshot(context.Background(), mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for i := range v.msgs.len() {
		f, kw := v.msgs.state(i)
		got = append(got, fmt.Sprint(v.msgs.uid(i), f, kw))
	}
	for _, m := range snap.Messages {
		want = append(want, fmt.Sprint(m.UID, m.Flags, m.Keywords))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || v.modseq != snap.Mailbox.HighestModSeq {
		t.Fatalf("cached view at MODSEQ %d:\n%v\nthe store at %d:\n%v", v.modseq, got, snap.Mailbox.HighestModSeq, want)
	}
	return v
}

// BenchmarkViewCatchUp: bringing a cached 1,000,000-message view up to date with 1,000 flag
// changes, 1,000 expunges and 1,000 new messages (what a SELECT does after a busy minute),
// and a session's first change to a shared view (the copy).
func BenchmarkViewCatchUp(b *testing.B) {
	const n = 1_000_000
	l := newMsgList(n)
	for uid := uint32(1); uid <= n; uid++ {
		var kw []string
		if uid%10 == 0 {
			kw = []string{"$NotJunk"}
		}
		l.add(uid, mailstore.FlagSeen, kw)
	}
	v := newMailboxView(1, 1, l)
	var ch mailstore.Changes
	ch.HighestModSeq = 2
	for i := uint32(0); i < 1000; i++ {
		ch.Changed = append(ch.Changed, mailstore.Message{UID: 1 + i*997, Flags: mailstore.FlagFlagged})
		ch.Changed = append(ch.Changed, mailstore.Message{UID: n + 1 + i})
		ch.Expunged = append(ch.Expunged, 2+i*991)
	}
	b.Run("apply", func(b *testing.B) {
		for b.Loop() {
			if got := v.apply(ch); got.msgs.len() != n {
				b.Fatalf("%d messages", got.msgs.len())
			}
		}
	})
	b.Run("own", func(b *testing.B) {
		for b.Loop() {
			sel := v.msgs
			sel.set(0, mailstore.FlagDeleted, nil)
		}
	})
}
