package imapserver_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

type strBody string

func (b strBody) Size() int64          { return int64(len(b)) }
func (b strBody) NewReader() io.Reader { return strings.NewReader(string(b)) }

// BenchmarkIMAP10kOps measures the design's IMAP targets on a 10,000-message INBOX of about
// 4 KiB messages, one in a hundred containing "needle": envelope listing, full download and
// body search through the index, on a mailbox the search index has caught up with (the time
// that takes is logged).
func BenchmarkIMAP10kOps(b *testing.B) {
	const n = 10000
	benchEnv := start(b)
	st := benchEnv.GW.Store()
	ctx := context.Background()
	// Look alice up: the gateway makes its postmaster account first, so she is not user 1.
	a, err := address.Parse("alice@localhost")
	if err != nil {
		b.Fatal(err)
	}
	alice, err := st.UserByAddress(ctx, a)
	if err != nil {
		b.Fatal(err)
	}
	inbox, err := st.MailboxByName(ctx, alice.ID, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	filler := strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit\r\n", 70)
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				word := "haystack"
				if i%100 == 0 {
					word = "needle"
				}
				msg := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@localhost\r\nSubject: message %d\r\n"+
					"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n%s%s\r\n", i, i, i, i, filler, word)
				if _, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: strBody(msg),
					Local: []mailstore.Target{{UserID: inbox.UserID}}}}}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
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
