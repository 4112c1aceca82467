package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// BenchmarkIMAP10kOps measures the design's IMAP targets on a 10,000-message INBOX of about
// 4 KiB messages, one in a hundred containing "needle": envelope listing, full download and
// body search through the index, on a mailbox the search index has caught up with (the time
// that takes is logged).
func BenchmarkIMAP10kOps(b *testing.B) {
	const n = 10000
	benchEnv := start(b)
	ctx := context.Background()
	filler := strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit\r\n", 70)
	inbox := benchEnv.DeliverMany(b, "alice@localhost", n, func(i int) string {
		word := "haystack"
		if i%100 == 0 {
			word = "needle"
		}
		return fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@localhost\r\nSubject: message %d\r\n"+
			"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n%s%s\r\n", i, i, i, i, filler, word)
	})
	// The operations run on an indexed mailbox, as a server's would be once its background
	// indexer has caught up after a delivery burst.
	t0 := time.Now()
	if err := benchEnv.GW.Index().IndexMailbox(ctx, inbox.ID, 0); err != nil {
		b.Fatal(err)
	}
	b.Logf("search index: %d messages indexed in %v", n, time.Since(t0).Round(time.Millisecond))
	c := login(b, benchEnv, "alice@localhost", alicePW)
	mustSelect(b, c, "INBOX")
	all := imap.SeqSet{{Start: 1, Stop: 0}}
	b.Run("FetchFlagsEnvelope", func(b *testing.B) {
		for b.Loop() {
			if got := len(fetchAll(b, c, all, &imap.FetchOptions{Flags: true, Envelope: true})); got != n {
				b.Fatalf("%d messages", got)
			}
		}
	})
	b.Run("UIDFetchBodyPeek", func(b *testing.B) {
		sec := &imap.FetchItemBodySection{Peek: true}
		for b.Loop() {
			cmd := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}})
			count := 0
			for m := cmd.Next(); m != nil; m = cmd.Next() {
				if _, err := m.Collect(); err != nil {
					b.Fatal(err)
				}
				count++
			}
			if err := cmd.Close(); err != nil || count != n {
				b.Fatalf("%d messages, %v", count, err)
			}
		}
	})
	b.Run("SearchBody", func(b *testing.B) {
		for b.Loop() {
			d, err := c.Search(&imap.SearchCriteria{Body: []string{"needle"}}, nil).Wait()
			if err != nil || len(d.AllSeqNums()) != n/100 {
				b.Fatalf("%v %v", d, err)
			}
		}
	})
}
