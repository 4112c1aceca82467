package pipeline

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func setup(t *testing.T) (*Pipeline, *mailstore.Store, mailstore.User) {
	t.Helper()
	s, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	u, err := s.AddUser(context.Background(), address.Address{Local: "alice", Domain: "localhost"}, "h")
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Hostname: "mx.example.test", Store: s, Subaddressing: address.Subaddressing{Separator: "+"}}), s, u
}

func testEnvelope(u mailstore.User, helo string) *Envelope {
	return &Envelope{
		ID: "ABC", Role: RoleMX, RemoteIP: netip.MustParseAddr("192.0.2.7"), Helo: helo,
		MailFrom:   "x@example.org",
		Recipients: []envelope.Recipient{{Address: address.Address{Local: "alice", Domain: "localhost"}, UserID: u.ID}},
		ReceivedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
	}
}

func stored(t *testing.T, s *mailstore.Store, u mailstore.User) []string {
	t.Helper()
	ctx := context.Background()
	mb, _ := s.MailboxByName(ctx, u.ID, "INBOX")
	msgs, _ := s.Messages(ctx, mb.ID)
	var out []string
	for _, m := range msgs {
		rc, _, _ := s.OpenBody(ctx, m.BodyID)
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}

func TestReceivedHeaderCannotBeInjected(t *testing.T) {
	p, s, u := setup(t)
	_, err := p.Process(context.Background(), testEnvelope(u, "evil\r\nX-Injected: yes (x); y"), msgbuf.FromBytes([]byte("Subject: a\r\n\r\nb\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	got := stored(t, s, u)[0]
	want := "Return-Path: <x@example.org>\r\nReceived: from evilX-Injected:yesxy ([192.0.2.7])\r\n\tby mx.example.test (Sealgate) with ESMTP id ABC\r\n\tfor <alice@localhost>;\r\n\tThu, 26 Nov 2026 08:00:00 +0000\r\nSubject: a\r\n\r\nb\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestHeaderLimits(t *testing.T) {
	p, s, u := setup(t)
	huge := "X-Big: " + strings.Repeat("a", mimeutil.MaxHeaderSize) + "\r\n\r\nbody\r\n"
	if _, err := p.Process(context.Background(), testEnvelope(u, "h"), msgbuf.FromBytes([]byte(huge))); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("huge header: %v", err)
	}
	// A header-only message and one with no header at all are still mail.
	for _, m := range []string{"Subject: only header\r\n", "\r\njust a body\r\n"} {
		if _, err := p.Process(context.Background(), testEnvelope(u, "h"), msgbuf.FromBytes([]byte(m))); err != nil {
			t.Fatalf("%q: %v", m, err)
		}
	}
	if n := len(stored(t, s, u)); n != 2 {
		t.Fatalf("%d stored", n)
	}
}

func TestSubmissionNeedsOwnedFrom(t *testing.T) {
	p, _, u := setup(t)
	env := testEnvelope(u, "h")
	env.Role = RoleSubmission
	env.AuthUser = &u
	for _, m := range []string{"From: bob@localhost\r\n\r\nx", "From: alice@localhost\r\nFrom: alice@localhost\r\n\r\nx", "From: <<<\r\n\r\nx"} {
		if _, err := p.Process(context.Background(), env, msgbuf.FromBytes([]byte(m))); err == nil {
			t.Fatalf("%q accepted", m)
		}
	}
	if _, err := p.Process(context.Background(), env, msgbuf.FromBytes([]byte("From: Alice <ALICE+x@localhost>\r\n\r\nx"))); err != nil {
		t.Fatal(err)
	}
}
