package gateway_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
)

// postgresNodes starts n gateways sharing one migrated PostgreSQL database and one master
// key. Their IMAP sessions never poll: only the store's change feed tells them of changes.
func postgresNodes(t *testing.T, n int) []*gatewaytest.Env {
	t.Helper()
	return gatewaytest.StartNodesWith(t, n, gateway.Options{IMAPPollInterval: time.Hour})
}

func imapLogin(t *testing.T, env *gatewaytest.Env, user, pw string, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(env.GW.Addr("imaps"), &imapclient.Options{TLSConfig: env.TLSConfig(), UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Mail delivered through one node wakes an IDLE session on another; a flag set on one node
// reaches an IDLE session on the other; the POP3 maildrop lock holds across nodes.
func TestNodesSharePostgres(t *testing.T) {
	nodes := postgresNodes(t, 2)
	a, b := nodes[0], nodes[1]
	a.AddUser("alice@localhost", "alice-pw")

	exists := make(chan uint32, 10)
	flags := make(chan []imap.Flag, 10)
	idler := imapLogin(t, b, "alice@localhost", "alice-pw", &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			for item := m.Next(); item != nil; item = m.Next() {
				if f, ok := item.(imapclient.FetchItemDataFlags); ok {
					flags <- f.Flags
				}
			}
		},
	})
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	a.Deliver(t, "alice@localhost", "Subject: through node a\r\n\r\nhello\r\n")
	select {
	case n := <-exists:
		if n != 1 {
			t.Fatalf("EXISTS %d on node b", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node b's IDLE session was not told of mail delivered through node a")
	}
	got := gatewaytest.ReadMailbox(t, b.GW.Store(), "alice@localhost", "INBOX")
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "through node a") {
		t.Fatalf("node b's store reads %d messages", len(got))
	}

	setter := imapLogin(t, a, "alice@localhost", "alice-pw", nil)
	if err := setter.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-flags:
		if !strings.Contains(strings.ToLower(flagString(f)), `\flagged`) {
			t.Fatalf("node b was told of flags %v", f)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node b's IDLE session was not told of a flag set on node a")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	// POP3: a session on node a locks the maildrop for node b.
	pa := pop3Login(t, a, "alice@localhost", "alice-pw")
	if !strings.HasPrefix(pa, "+OK") {
		t.Fatalf("POP3 login on node a: %q", pa)
	}
	if pb := pop3Login(t, b, "alice@localhost", "alice-pw"); !strings.HasPrefix(pb, "-ERR [IN-USE]") {
		t.Fatalf("POP3 login on node b while node a holds the maildrop: %q", pb)
	}
}

func flagString(fs []imap.Flag) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(string(f) + " ")
	}
	return b.String()
}

// pop3Login logs in over pop3s and returns the reply to PASS; the session stays open until
// the test ends.
func pop3Login(t *testing.T, env *gatewaytest.Env, user, pw string) string {
	t.Helper()
	c, err := tls.Dial("tcp", env.GW.Addr("pop3s"), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	line := func() string {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	line() // greeting
	c.Write([]byte("USER " + user + "\r\n"))
	if l := line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("USER: %q", l)
	}
	c.Write([]byte("PASS " + pw + "\r\n"))
	return line()
}

// A node refuses to start on a database without the schema this Sealgate knows.
func TestNodeRefusesUnknownSchema(t *testing.T) {
	cfg := gatewaytest.Config()
	cfg.Storage = config.Storage{Backend: config.BackendPostgres, DSN: pgtest.DSN(t)}
	_, err := gateway.New(gateway.Options{Config: cfg, DataDir: filepath.Join(t.TempDir(), "data")})
	if !errors.Is(err, pgstore.ErrSchemaOld) || !strings.Contains(err.Error(), "sealgate db migrate") {
		t.Fatalf("New on an empty database: %v", err)
	}
}
