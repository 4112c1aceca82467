package gatewaytest

import (
	"context"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// DeliverMany delivers msg(i), for i from 0 to n-1, to the INBOX of the existing account user
// through the store (not SMTP), 16 at a time as the MX's sessions do: UIDs follow commit
// order, not i. The store's commit hook tells the search indexer, as for real mail. It
// returns the INBOX.
func (e *Env) DeliverMany(t testing.TB, user string, n int, msg func(i int) string) mailstore.Mailbox {
	t.Helper()
	ctx := context.Background()
	a, err := address.Parse(user)
	if err != nil {
		t.Fatal(err)
	}
	st := e.GW.Store()
	u, err := st.UserByAddress(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				if _, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{Body: msgbuf.FromBytes([]byte(msg(i))),
					Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	inbox, err := st.MailboxByName(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return inbox
}
