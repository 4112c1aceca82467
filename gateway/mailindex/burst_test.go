package mailindex_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

type strBody string

func (b strBody) Size() int64          { return int64(len(b)) }
func (b strBody) NewReader() io.Reader { return strings.NewReader(string(b)) }

// backends are the [storage] backends a test runs on; postgres is skipped without
// SEALGATE_TEST_PG_DSN.
var backends = []string{"embedded", "postgres"}

func start(t testing.TB, backend string) *gatewaytest.Env {
	t.Helper()
	if backend == "embedded" {
		return gatewaytest.Start(t)
	}
	storage := config.Storage{Backend: config.BackendPostgres, DSN: gatewaytest.PostgresDSN(t)}
	if err := gateway.MigrateStorage(context.Background(), storage); err != nil {
		t.Fatal(err)
	}
	return gatewaytest.Start(t, func(c *config.Config) { c.Storage = storage })
}

// burstMessage is message i of a burst: one in a hundred has "needle" in its body and every
// tenth has "Report" in its subject.
func burstMessage(i int) string {
	word, subject := "haystack", fmt.Sprintf("message %d", i)
	if i%100 == 0 {
		word = "needle"
	}
	if i%10 == 0 {
		subject = fmt.Sprintf("Report %d", i)
	}
	return fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: rcpt@localhost\r\nSubject: %s\r\n"+
		"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n%s%s\r\n",
		i, i, subject, i, strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit\r\n", 70), word)
}

// burst makes an account and delivers n messages to its INBOX through the store, 16 at a
// time, as the MX's sessions do; the store's commit hook tells the indexer of each.
func burst(t testing.TB, env *gatewaytest.Env, user string, n int) {
	t.Helper()
	env.AddUser(user, "burst-secret-pw")
	env.DeliverMany(t, user, n, burstMessage)
}

func login(t testing.TB, env *gatewaytest.Env, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(env.GW.Addr("imaps"), &imapclient.Options{TLSConfig: env.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, "burst-secret-pw").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func uidSearch(t testing.TB, c *imapclient.Client, crit *imap.SearchCriteria) []imap.UID {
	t.Helper()
	d, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return d.AllUIDs()
}

// TestSearchRightAfterBurst delivers a burst and searches at once, while the indexer is still
// behind: every search sees every message, indexed or not, and gives the same answer once the
// index has caught up.
func TestSearchRightAfterBurst(t *testing.T) {
	const n = 1000
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			env := start(t, backend)
			burst(t, env, "rcpt@localhost", n)
			c := login(t, env, "rcpt@localhost")
			cases := []struct {
				name string
				crit imap.SearchCriteria
				want int
			}{
				{"body", imap.SearchCriteria{Body: []string{"NEEDLE"}}, n / 100},
				{"text", imap.SearchCriteria{Text: []string{"report 1"}}, countText(n, "report 1")},
				{"header", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "report"}}}, n / 10},
				{"not body", imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"haystack"}}}}, n / 100},
				{"short needle", imap.SearchCriteria{Body: []string{"ne"}}, n / 100},
				{"sent on", imap.SearchCriteria{SentSince: sentOn, SentBefore: sentOn.AddDate(0, 0, 1)}, n},
				{"body or header", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Body: []string{"needle"}},
					{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "report"}}}}}}, n / 10},
			}
			first := map[string][]imap.UID{}
			for _, tc := range cases {
				got := uidSearch(t, c, &tc.crit)
				if len(got) != tc.want {
					t.Errorf("%s right after the burst: %d hits, want %d", tc.name, len(got), tc.want)
				}
				first[tc.name] = got
			}
			if err := env.GW.Index().IndexMailbox(context.Background(), 0, 0); err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				if got := uidSearch(t, c, &tc.crit); !slices.Equal(got, first[tc.name]) {
					t.Errorf("%s: %v once indexed, %v right after the burst", tc.name, got, first[tc.name])
				}
			}
		})
	}
}

// sentOn is the date of every burst message.
var sentOn = time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)

// countText counts the burst messages whose header or body contains s, case-insensitively.
func countText(n int, s string) int {
	count := 0
	for i := range n {
		if strings.Contains(strings.ToLower(burstMessage(i)), strings.ToLower(s)) {
			count++
		}
	}
	return count
}

// BenchmarkFirstSearchAfterBurst measures a body search sent the moment a burst of n
// messages has been delivered to a new account, before the background indexer has caught up.
func BenchmarkFirstSearchAfterBurst(b *testing.B) {
	for _, backend := range backends {
		for _, n := range []int{2000, 10000} {
			b.Run(fmt.Sprintf("%s/%d", backend, n), func(b *testing.B) {
				env := start(b, backend)
				round := 0
				var ingest time.Duration
				for b.Loop() {
					b.StopTimer()
					round++
					user := fmt.Sprintf("burst%d@localhost", round)
					t0 := time.Now()
					burst(b, env, user, n)
					ingest += time.Since(t0)
					c := login(b, env, user)
					b.StartTimer()
					if got := uidSearch(b, c, &imap.SearchCriteria{Body: []string{"needle"}}); len(got) != n/100 {
						b.Fatalf("%d hits, want %d", len(got), n/100)
					}
				}
				// The burst's own time: indexing beside it must not slow it down.
				b.ReportMetric(float64(ingest.Milliseconds())/float64(round), "ingest-ms")
			})
		}
	}
}
