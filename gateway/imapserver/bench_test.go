package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// BenchmarkIMAP10kOps measures the design's IMAP targets on a 10,000-message INBOX of about
// 4 KiB messages, one in a hundred containing "needle": envelope listing, full download and
// body search through the index, on a mailbox the search index has caught up with (the time
// that takes is logged).
func BenchmarkIMAP10kOps(b *testing.B) {
	const n = 10000
	filler := strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit\r\n", 70)
	_, c := indexedInbox(b, n, func(i int) string {
		word := "haystack"
		if i%100 == 0 {
			word = "needle"
		}
		return fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@localhost\r\nSubject: message %d\r\n"+
			"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n%s%s\r\n", i, i, i, i, filler, word)
	})
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

// indexedInbox starts a gateway whose alice@localhost INBOX holds n messages made by msg,
// indexed as a server's would be once its background indexer has caught up after a delivery
// burst (the time that takes is logged), and returns it with a client that has INBOX
// selected.
func indexedInbox(b *testing.B, n int, msg func(i int) string) (*gatewaytest.Env, *imapclient.Client) {
	env := start(b)
	inbox := env.DeliverMany(b, "alice@localhost", n, msg)
	t0 := time.Now()
	if err := env.GW.Index().IndexMailbox(b.Context(), inbox.ID, 0); err != nil {
		b.Fatal(err)
	}
	b.Logf("search index: %d messages indexed in %v", n, time.Since(t0).Round(time.Millisecond))
	c := login(b, env, "alice@localhost", alicePW)
	mustSelect(b, c, "INBOX")
	return env, c
}
