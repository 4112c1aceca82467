package webmail_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/config"
)

// The folder list shows the storage used against the limit; mail for a full mailbox is not
// sent, and the page says why.
func TestQuotaShownAndRefused(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Limits.MailboxQuota = config.MiB })
	e.deliver(t, "carol@remote.test", alice, "From: carol@remote.test\nSubject: hi\n\n"+strings.Repeat("x", 2000)+"\n")
	b := e.browser(t)
	b.mustLogin(alice, alicePW)
	p := b.get("/mail/")
	if !strings.Contains(p.body, `<p class="storage">2 KB of 1.0 MB used (0%)</p>`) {
		t.Fatalf("no storage line: %s", p.body)
	}
	bobAddr, err := address.Parse(bob)
	if err != nil {
		t.Fatal(err)
	}
	s := e.GW.Store().(interface {
		SetQuota(ctx context.Context, addr address.Address, limit int64) error
	})
	if err := s.SetQuota(context.Background(), bobAddr, 10); err != nil {
		t.Fatal(err)
	}
	r := b.sendForm(map[string]string{"to": bob, "subject": "to a full mailbox", "body": "x\n"}, nil)
	if r.StatusCode == http.StatusSeeOther || !strings.Contains(r.body, "Not sent: the recipients&#39; mailboxes are full.") {
		t.Fatalf("send to a full mailbox: %d %s", r.StatusCode, r.body)
	}
	if got := e.Mailbox(bob, "INBOX"); len(got) != 0 {
		t.Fatalf("bob got mail past his quota: %v", got)
	}
}
