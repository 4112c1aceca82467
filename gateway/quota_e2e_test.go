package gateway_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// quotaClient speaks to the MX listener with Python's smtplib: RCPT for a full mailbox, a
// message too large for the only recipient's quota, and the same message for that recipient
// and another with room.
const quotaClient = `
import smtplib, sys
mx = sys.argv[1]
h, p = mx.rsplit(":", 1)
body = b"Subject: quota test\r\n\r\n" + b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n" * 80

with smtplib.SMTP(h, int(p)) as s:
    s.ehlo("python.example.org")
    try:
        s.sendmail("py@example.org", ["full@localhost"], b"Subject: x\r\n\r\nx\r\n")
        sys.exit("mail for a full mailbox accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, msg = e.recipients["full@localhost"]
        assert code == 452 and msg.startswith(b"4.2.2"), (code, msg)
    s.rset()
    try:
        s.sendmail("py@example.org", ["small@localhost"], body)
        sys.exit("a message past the only recipient's quota accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 552 and e.smtp_error.startswith(b"5.2.2"), (e.smtp_code, e.smtp_error)
    s.rset()
    refused = s.sendmail("py@example.org", ["small@localhost", "roomy@localhost", "full@localhost"], body)
    assert list(refused) == ["full@localhost"] and refused["full@localhost"][0] == 452, refused
print("ok")
`

// quotaGatewayStore is what TestQuotaOverSMTP reads and changes behind the protocols; both
// backends have it.
type quotaGatewayStore interface {
	SetQuota(ctx context.Context, addr address.Address, limit int64) error
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
	QueueEntries(ctx context.Context) ([]mailstore.QueueEntry, error)
	OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error)
	Check(ctx context.Context) ([]string, error)
}

// TestQuotaOverSMTP: a full mailbox is refused at RCPT with 452 4.2.2; a message that would
// take the only recipient past its quota at DATA with 552 5.2.2, leaving nothing stored; with
// another recipient that has room, that one gets the message and the sender a DSN for the
// refused one. On the embedded store and on PostgreSQL.
func TestQuotaOverSMTP(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testQuotaOverSMTP(t, config.Storage{Backend: config.BackendEmbedded}) })
	t.Run("postgres", func(t *testing.T) {
		storage := config.Storage{Backend: config.BackendPostgres, DSN: pgtest.DSN(t)}
		if err := gateway.MigrateStorage(context.Background(), storage); err != nil {
			t.Fatal(err)
		}
		testQuotaOverSMTP(t, storage)
	})
}

func testQuotaOverSMTP(t *testing.T, storage config.Storage) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("SEALGATE_REQUIRE_PEERS") != "" {
			t.Fatal("python3 is not installed and SEALGATE_REQUIRE_PEERS is set")
		}
		t.Skip("python3 is not installed")
	}
	ctx := context.Background()
	env := gatewaytest.Start(t, func(c *config.Config) { c.Limits.MailboxQuota = 3 * config.KiB; c.Storage = storage })
	env.AddUser("full@localhost", "pw-full-123456")
	small := env.AddUser("small@localhost", "pw-small-123456")
	env.AddUser("roomy@localhost", "pw-roomy-123456")
	s, ok := env.GW.Store().(quotaGatewayStore)
	if !ok {
		t.Fatal("the store keeps no quotas")
	}
	env.Deliver(t, "full@localhost", "Subject: first\r\n\r\nfills the mailbox\r\n")
	if err := s.SetQuota(ctx, gatewaytest.Address(t, "full@localhost"), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetQuota(ctx, gatewaytest.Address(t, "roomy@localhost"), mailstore.QuotaUnlimited); err != nil {
		t.Fatal(err)
	}

	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(quotaClient), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, env.GW.Addr("smtp")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python client: %v\n%s\n%s", err, out, env.Log)
	}

	if got := env.Mailbox("roomy@localhost", "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: quota test") {
		t.Fatalf("roomy: %v", got)
	}
	if got := env.Mailbox("small@localhost", "INBOX"); len(got) != 0 {
		t.Fatalf("small got mail past its quota: %v", got)
	}
	if got := env.Mailbox("full@localhost", "INBOX"); len(got) != 1 {
		t.Fatalf("full: %v", got)
	}
	if q, err := s.Quota(ctx, small.ID); err != nil || q.Used != 0 || q.Limit != 3*1024 {
		t.Fatalf("small's quota %+v %v", q, err)
	}
	// The sender's DSN for small@ is spooled to it (from the null sender), the only entry.
	entries, err := s.QueueEntries(ctx)
	if err != nil || len(entries) != 1 || entries[0].Sender != "" || len(entries[0].Recipients) != 1 ||
		entries[0].Recipients[0].Address != "py@example.org" {
		t.Fatalf("spool %+v %v", entries, err)
	}
	rc, _, err := s.OpenBody(ctx, entries[0].BodyID)
	if err != nil {
		t.Fatal(err)
	}
	dsn, _ := io.ReadAll(rc)
	rc.Close()
	for _, want := range []string{"report-type=delivery-status", "Final-Recipient: rfc822; small@localhost", "Action: failed",
		"Status: 5.2.2", "Diagnostic-Code: smtp; 552 5.2.2", "Subject: quota test"} {
		if !strings.Contains(string(dsn), want) {
			t.Errorf("DSN lacks %q:\n%s", want, dsn)
		}
	}
	if strings.Contains(string(dsn), "roomy@localhost\r\nAction") {
		t.Error("DSN names the recipient that got the message")
	}
	if log := env.Log.String(); !strings.Contains(log, "recipients refused: mailbox full") || !strings.Contains(log, "message refused: mailbox full") {
		t.Errorf("log lacks the refusals:\n%s", log)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("check: %v %v", probs, err)
	}
}
