package mailstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func bigBody(t testing.TB, subject string) *msgbuf.Buffer {
	buf := msgbuf.New(msgbuf.Options{Dir: t.TempDir(), MemoryLimit: 4096})
	fmt.Fprintf(buf, "Subject: %s\r\n\r\n", subject)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for buf.Size() <= InlineLimit+10 {
		buf.Write(chunk)
	}
	buf.Finish()
	return buf
}

// TestSnapshotConsistentWhileExpunging: snapshots taken while large messages (body files)
// are delivered and expunged at once in the same store are each consistent (Check finds
// nothing) and hold every message that stays.
func TestSnapshotConsistentWhileExpunging(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	keep := addUser(t, s, "keep@x.test")
	churn := addUser(t, s, "churn@x.test")
	for i := 0; i < 3; i++ {
		if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: bigBody(t, "keep"), Local: []Target{{UserID: keep.ID}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: bigBody(t, "churn"), Local: []Target{{UserID: churn.ID}}}}}); err != nil {
				t.Error(err)
				return
			}
			mb, msgs := inbox(t, s, churn)
			uids := make([]uint32, 0, len(msgs))
			for _, m := range msgs {
				uids = append(uids, m.UID)
			}
			if err := s.Expunge(ctx, mb.ID, uids); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 10; i++ {
		dst := filepath.Join(t.TempDir(), "snap")
		if _, err := Snapshot(ctx, dir, dst); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		c := openTest(t, dst)
		probs, err := c.Check(ctx)
		if err != nil || len(probs) > 0 {
			t.Fatalf("snapshot %d: %v %v", i, probs, err)
		}
		if _, msgs := inbox(t, c, keep); len(msgs) != 3 {
			t.Fatalf("snapshot %d holds %d of the 3 messages kept", i, len(msgs))
		}
		c.Close()
	}
}

// TestSnapshotGivesUp: a body file that is gone while the database still references it
// (damage, not a race) ends Snapshot after a bounded number of attempts.
func TestSnapshotGivesUp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	u := addUser(t, s, "u@x.test")
	if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: bigBody(t, "x"), Local: []Target{{UserID: u.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range blobFiles(t, dir) {
		os.Remove(f)
	}
	if _, err := Snapshot(ctx, dir, filepath.Join(t.TempDir(), "snap")); !errors.Is(err, ErrSnapshotRace) {
		t.Fatalf("Snapshot of a store missing a body file: %v, want ErrSnapshotRace", err)
	}
}

// BenchmarkSnapshot: a store of 2,000 small messages (bodies in the database) and 20 large
// ones (body files), snapshotted.
func BenchmarkSnapshot(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s := openTest(b, dir)
	u, err := s.AddUser(ctx, address.Address{Local: "bench", Domain: "x.test"}, "x")
	if err != nil {
		b.Fatal(err)
	}
	small := bytes.Repeat([]byte("0123456789abcdef"), 640)
	for i := 0; i < 2000; i++ {
		body := msgbuf.FromBytes(append([]byte(fmt.Sprintf("Subject: %d\r\n\r\n", i)), small...))
		if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: body, Local: []Target{{UserID: u.ID}}}}}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		if _, err := s.Deliver(ctx, Delivery{Copies: []Copy{{Body: bigBody(b, "big"), Local: []Target{{UserID: u.ID}}}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Snapshot(ctx, dir, filepath.Join(b.TempDir(), "snap")); err != nil {
			b.Fatal(err)
		}
	}
}
