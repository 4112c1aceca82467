package mailstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func openTest(t testing.TB, dir string) *Store { return openWith(t, dir, Options{}) }

// openWith opens the store in dir with opts; the test's cleanup closes it.
func openWith(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
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

// TestLargeBodyIsFileAndCollected: a body over InlineLimit is a file under blobs/ (the
// conformance suite checks what it reads back), removed when its last message goes.
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
	if files := blobFiles(t, dir); len(files) != 1 {
		t.Fatalf("blob files %v", files)
	}
	_, msgs := inbox(t, s, u)
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
	s := openTest(b, b.TempDir())
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
