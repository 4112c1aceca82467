package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
)

// TestFetchRoundTrips: on PostgreSQL, a FETCH of flags and envelopes and a flag resync each
// cost one database round trip, the poll that ends the command included: the poll takes the
// HIGHESTMODSEQ the FETCH read with its rows (or with the view's check). A NOOP is its poll.
// Each command is counted over several runs and the fewest taken, since the gateway's
// background work (indexer, queue) shares the database.
func TestFetchRoundTrips(t *testing.T) {
	direct := gatewaytest.PostgresDSN(t)
	dsn, proxy := pgtest.Proxied(t, direct)
	env := startOn(t, &config.Storage{Backend: config.BackendPostgres, DSN: dsn})
	env.AddUser("alice@localhost", alicePW)
	for i := range 3 {
		deliver(t, env, "alice@localhost", simpleMsg(fmt.Sprint("rt", i), "x"))
	}
	// The envelopes are stored by the indexer; until then FETCH also reads header sections.
	ctx := context.Background()
	db, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM imap_envelope`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d envelopes stored after 30 s", n)
		}
	}

	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	r.cmd("a2", "SELECT INBOX")
	fewest := func(command string) int64 {
		t.Helper()
		least := int64(-1)
		for i := range 12 {
			before := proxy.Trips()
			tag := fmt.Sprint("c", i)
			lines := r.cmd(tag, command)
			if !strings.HasPrefix(lines[len(lines)-1], tag+" OK") {
				t.Fatalf("%s: %q", command, lines)
			}
			// The first runs prepare the statements on the pool's connections.
			if n := proxy.Trips() - before; i >= 4 && (least < 0 || n < least) {
				least = n
			}
		}
		return least
	}
	for _, c := range []struct {
		command string
		want    int64
	}{
		{"FETCH 1:3 (FLAGS ENVELOPE)", 1},
		{"UID FETCH 1:* (FLAGS)", 1},
		{"NOOP", 1},
	} {
		if got := fewest(c.command); got != c.want {
			t.Errorf("%s: %d database round trips, want %d", c.command, got, c.want)
		}
	}
}
