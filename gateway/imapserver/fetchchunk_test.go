package imapserver_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// A FETCH of a mailbox larger than one chunk answers every message once, in order, with its
// own envelope and body: across chunk and body-batch boundaries, with UID gaps, a message
// stored as a file, a message expunged by another session after SELECT, and \Seen set by a
// non-peek fetch. Run before and after the search indexer has stored envelopes.
func TestFetchAcrossChunks(t *testing.T) {
	env := start(t)
	ctx := context.Background()
	st, u := storeUser(t, env, "alice@localhost")
	n := 2*imapserver.FetchChunkSize + 300
	large := imapserver.FetchChunkSize + 500 // stored as a file
	msg := func(i int) []byte {
		body := fmt.Sprintf("body of message %d\r\n", i)
		if i == large {
			body = strings.Repeat("large body line\r\n", mailstore.InlineLimit/16)
		}
		return fmt.Appendf(nil, "From: s%d@example.org\r\nTo: alice@localhost\r\nSubject: message %d\r\n\r\n%s", i, i, body)
	}
	// Delivered concurrently so the store commits them in groups; UIDs follow commit order,
	// so each message is identified by its subject below.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{
				Body: msgbuf.FromBytes(msg(i)), Local: []mailstore.Target{{UserID: u.ID}}}}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := st.MailboxByName(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// UID gaps at the first chunk boundary, before the client selects.
	if err := env.Embedded().Expunge(ctx, inbox.ID, []uint32{uint32(imapserver.FetchChunkSize - 1), uint32(imapserver.FetchChunkSize + 2)}); err != nil {
		t.Fatal(err)
	}

	c := login(t, env, "alice@localhost", alicePW)
	sel := mustSelect(t, c, "INBOX")
	if int(sel.NumMessages) != n-2 {
		t.Fatalf("selected %d messages, want %d", sel.NumMessages, n-2)
	}
	// Another session expunges a message in the second chunk; this one has not been told.
	goneUID := uint32(imapserver.FetchChunkSize + 100)
	if err := env.Embedded().Expunge(ctx, inbox.ID, []uint32{goneUID}); err != nil {
		t.Fatal(err)
	}

	check := func(opts *imap.FetchOptions, wantSeen bool) {
		t.Helper()
		msgs := fetchAll(t, c, imap.SeqSet{{Start: 1, Stop: 0}}, opts) // 1:*
		if len(msgs) != n-3 {
			t.Fatalf("FETCH answered %d messages, want %d", len(msgs), n-3)
		}
		seenSubjects := map[string]bool{}
		var lastUID imap.UID
		for _, m := range msgs {
			if m.UID <= lastUID || uint32(m.UID) == goneUID {
				t.Fatalf("UID %d after %d (expunged: %d)", m.UID, lastUID, goneUID)
			}
			lastUID = m.UID
			subj := m.Envelope.Subject
			if seenSubjects[subj] {
				t.Fatalf("%q answered twice", subj)
			}
			seenSubjects[subj] = true
			var i int
			if _, err := fmt.Sscanf(subj, "message %d", &i); err != nil {
				t.Fatalf("envelope subject %q", subj)
			}
			if from := m.Envelope.From; len(from) != 1 || from[0].Mailbox != fmt.Sprintf("s%d", i) {
				t.Fatalf("%s: envelope from %v", subj, from)
			}
			var body []byte
			for _, b := range m.BodySection {
				body = b.Bytes
			}
			if !bytes.Equal(body, msg(i)) {
				t.Fatalf("%s (UID %d): body of %d bytes is not its own", subj, m.UID, len(body))
			}
			seen := false
			for _, f := range m.Flags {
				seen = seen || f == imap.FlagSeen
			}
			if seen != wantSeen {
				t.Fatalf("%s: \\Seen = %v, want %v", subj, seen, wantSeen)
			}
		}
	}
	peek := &imap.FetchOptions{UID: true, Flags: true, Envelope: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	check(peek, false)
	if err := env.GW.Index().IndexMailbox(ctx, inbox.ID, 0); err != nil {
		t.Fatal(err)
	}
	check(peek, false) // stored envelopes now
	check(&imap.FetchOptions{UID: true, Flags: true, Envelope: true,
		BodySection: []*imap.FetchItemBodySection{{}}}, true)
	check(peek, true)
}
