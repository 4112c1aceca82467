package pgstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/bodytest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
)

// generated is a message body made on the fly: a header, then lines of a repeating pattern.
type generated struct{ size int64 }

func (g generated) Size() int64 { return g.size }

func (g generated) NewReader() io.Reader {
	head := "Subject: large\r\n\r\n"
	line := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789\r\n")
	body := bodytest.Repeat(line)
	return io.LimitReader(io.MultiReader(bytes.NewReader([]byte(head)), body), g.size)
}

// TestFiftyMiBMessage: a 50 MiB message is stored in ChunkSize rows and read back whole.
func TestFiftyMiBMessage(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	s := openNode(t, dsn, pgstore.Options{})
	u := addUser(t, s, "large@x.test")
	body := generated{size: 50 << 20}
	d, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: body, Local: []mailstore.Target{{UserID: u.ID}}}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.MessagesInRange(ctx, d.Messages[0].MailboxID, d.Messages[0].UID, d.Messages[0].UID)
	if err != nil || len(msgs) != 1 || msgs[0].Size != body.size {
		t.Fatalf("message %+v %v", msgs, err)
	}
	rc, size, err := s.OpenBody(ctx, msgs[0].BodyID)
	if err != nil || size != body.size {
		t.Fatalf("open: %d %v", size, err)
	}
	got, want := sha256.New(), sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	if err != nil || n != body.size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	io.Copy(want, body.NewReader())
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("the body read back differs")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var chunks, largest, headerSize int64
	if err := conn.QueryRow(ctx, `SELECT count(*), max(length(data)), (SELECT header_size FROM bodies WHERE id = $1)
		FROM body_chunks WHERE body_id = $1`, msgs[0].BodyID).Scan(&chunks, &largest, &headerSize); err != nil {
		t.Fatal(err)
	}
	if chunks != 50 || largest != pgstore.ChunkSize || headerSize != int64(len("Subject: large\r\n\r\n")) {
		t.Fatalf("%d chunks, the largest %d bytes, header %d bytes", chunks, largest, headerSize)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("check: %v %v", probs, err)
	}
}

// TestCheckFindsDamage: Check reports reference counts and chunks changed behind the
// store's back.
func TestCheckFindsDamage(t *testing.T) {
	dsn := newDB(t)
	ctx := context.Background()
	s := openNode(t, dsn, pgstore.Options{})
	u := addUser(t, s, "chk@x.test")
	d, err := s.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{
		{Body: generated{size: 3*pgstore.ChunkSize + 5}, Local: []mailstore.Target{{UserID: u.ID}}},
		{Body: generated{size: 100}, Local: []mailstore.Target{{UserID: u.ID}}, Outbound: &mailstore.Outbound{Sender: "chk@x.test", Recipients: []string{"r@remote.test"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("a healthy store: %v %v", probs, err)
	}
	msgs, _ := s.Messages(ctx, d.Messages[0].MailboxID)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []struct {
		sql string
		arg int64
	}{
		{`DELETE FROM body_chunks WHERE body_id = $1 AND seq = 1`, msgs[0].BodyID},
		{`UPDATE bodies SET refs = refs + 1 WHERE id = $1`, msgs[1].BodyID},
		{`UPDATE mailboxes SET uidnext = 1 WHERE id = $1`, msgs[0].MailboxID},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.arg); err != nil {
			t.Fatal(err)
		}
	}
	probs, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"reference count 3, but 2 references",
		"but its chunks hold 2097157",
		"UIDNEXT 1 is not above its highest UID 2",
	}
	joined := fmt.Sprint(probs)
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("problems %v lack %q", probs, w)
		}
	}
	if len(probs) != len(want) {
		t.Fatalf("problems %v", probs)
	}
}
