package pop3server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pop3server"
)

// FuzzCommands sends arbitrary command streams to a real server, before and after login.
// The server must answer every line with +OK, -ERR, a continuation or listing lines, never
// crash, and end the session on QUIT or close.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{
		"CAPA\r\nSTAT\r\n",
		"USER alice@localhost\r\nPASS " + pw + "\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 1 0\r\nDELE 1\r\nRSET\r\n",
		"USER alice@localhost\r\nPASS " + pw + "\r\nTOP 1 -1\r\nRETR 999999999999999999999\r\nDELE 0\r\nLIST x\r\n",
		"AUTH PLAIN\r\n*\r\nAUTH PLAIN AGFsaWNlQGxvY2FsaG9zdABwb3Atc2VjcmV0LXB3\r\nSTAT\r\n",
		"AUTH\r\nAPOP a b\r\nSTLS\r\n",
		"\r\n\x00\xff\r\nuser\tx\r\n",
	} {
		f.Add(s)
	}
	// A server of its own, so that the fuzzer's failed logins are not throttled.
	dir := f.TempDir()
	store, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	hash, _ := auth.HashPassword(pw)
	u, err := store.AddUser(context.Background(), address.Address{Local: "alice", Domain: "localhost"}, hash)
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := store.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
			Body: msgbuf.FromBytes([]byte("Subject: f\r\n\r\n.dot\r\nbody\r\n")), Local: []mailstore.Target{{UserID: u.ID}}}}})
		if err != nil {
			f.Fatal(err)
		}
	}
	srv, err := pop3server.New(pop3server.Options{
		Hostname: "pop.example.test",
		Auth: auth.New(auth.Options{Accounts: store,
			Throttle: auth.NewThrottle(auth.ThrottleOptions{FreeFailures: 1 << 30, AccountFailures: 1 << 30, NetworkFailures: 1 << 30})}),
		Store:                   store,
		PlaintextAuthOnLoopback: true,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go srv.Serve(ln)
	f.Cleanup(func() { srv.Shutdown(context.Background()) })
	addr := ln.Addr().String()
	f.Fuzz(func(t *testing.T, input string) {
		if !wiretest.StartsTLS(input, "STLS") {
			wiretest.Session(t, addr, input, "QUIT", "+OK ", 10*time.Second)
		}
	})
}
