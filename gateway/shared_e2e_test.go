package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/internal/pgtest"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/keys"
)

// startNodesAtOnce builds and starts n gateways on one fresh database and one master key at
// the same moment, as an operator starting a cluster for the first time would.
func startNodesAtOnce(t *testing.T, n int, mods ...func(*config.Config)) []*gatewaytest.Env {
	t.Helper()
	storage := config.Storage{Backend: config.BackendPostgres, DSN: pgtest.DSN(t)}
	if err := gateway.MigrateStorage(context.Background(), storage); err != nil {
		t.Fatal(err)
	}
	master := filepath.Join(t.TempDir(), "master.key")
	if _, err := keys.LoadOrCreateMasterKey(master); err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, dnstest.Zone{"SERVFAIL": {"*"}})
	envs := make([]*gatewaytest.Env, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := gatewaytest.Config()
		cfg.Storage = storage
		cfg.Keys.MasterKeyFile = master
		for _, m := range mods {
			m(cfg)
		}
		logs := &gatewaytest.LogBuffer{}
		dir := filepath.Join(t.TempDir(), "data")
		envs[i] = &gatewaytest.Env{T: t, Dir: dir, Config: cfg, Log: logs, DNS: dns}
		wg.Add(1)
		go func() {
			defer wg.Done()
			envs[i].GW, errs[i] = gateway.New(gateway.Options{
				Config: cfg, DataDir: dir,
				Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				Resolver: &deliverytest.Resolver{Temporary: true}, DNS: dns.Resolver(),
			})
		}()
	}
	wg.Wait()
	for i, env := range envs {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if err := env.GW.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := env.GW.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	return envs
}

// presented returns the certificate a node's IMAPS listener presents.
func presented(t *testing.T, env *gatewaytest.Env) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", env.GW.Addr("imaps"), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

// TestNodesShareFirstStart: nodes started at the same moment on a fresh database make one
// postmaster account and one self-signed certificate, which every node presents.
func TestNodesShareFirstStart(t *testing.T) {
	nodes := startNodesAtOnce(t, 3)
	users, err := nodes[0].GW.Store().Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Address != "postmaster@localhost" {
		t.Fatalf("accounts after three nodes started at once: %v", users)
	}
	first := presented(t, nodes[0])
	for i, n := range nodes[1:] {
		if !bytes.Equal(presented(t, n), first) {
			t.Errorf("node %d presents another certificate than node 0", i+1)
		}
	}
}

// TestNodesShareDKIMAndSRS: a DKIM key made against one node (as `sealgate dkim generate`
// does) signs what another node forwards, and a bounce to the SRS address one node signed is
// accepted and routed back by another. The DKIM key is in the database only sealed.
func TestNodesShareDKIMAndSRS(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	nodes := startNodesAtOnce(t, 3, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"elsewhere.test": peer.Addr, "outside.test": peer.Addr}
	})
	ctx := context.Background()
	files, err := gateway.OpenSharedFiles(ctx, nodes[0].Config.Storage, nodes[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	// dkim generate against node 0's configuration, with the cluster's master key.
	nodeMK, err := keys.LoadOrCreateMasterKey(nodes[0].Config.Keys.MasterKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := (&mailauth.DKIMKeys{Files: files, MasterKey: nodeMK}).Generate("localhost", "sel1")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := files.ReadFile(ctx, "dkim/localhost/sel1.key")
	if err != nil || !bytes.HasPrefix(sealed, []byte("SGSEAL1")) {
		t.Fatalf("the DKIM key in the database is not sealed: %q %v", sealed[:min(len(sealed), 16)], err)
	}

	aliases, ok := nodes[0].GW.Store().(interface {
		SetAlias(ctx context.Context, key string, a mailstore.Alias, check func(map[string]mailstore.Alias) error) error
	})
	if !ok {
		t.Fatalf("%T has no SetAlias", nodes[0].GW.Store())
	}
	if err := aliases.SetAlias(ctx, "fwd@localhost", mailstore.Alias{Address: "fwd@localhost", Targets: []string{"friend@elsewhere.test"}}, addressing.CheckLoops); err != nil {
		t.Fatal(err)
	}
	msg := "From: sender@outside.test\r\nTo: fwd@localhost\r\nSubject: forwarded\r\n\r\nbody\r\n"
	if err := mx(t, nodes[1], "sender@outside.test", "fwd@localhost", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if !peer.Wait(30*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) == 1 }) {
		t.Fatal("the forwarded message was not delivered")
	}
	fw := peer.Received()[0]
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(fw.Body), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain == "sel1._domainkey.localhost" {
				return []string{rec.Value}, nil
			}
			return nil, errors.New("no such record")
		},
	})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "localhost" {
		t.Fatalf("DKIM of the copy node 1 forwarded: %+v %v\n%s", verifs, err, fw.Body)
	}

	if !strings.HasPrefix(fw.From, "SRS0=") {
		t.Fatalf("forwarded with envelope sender %q", fw.From)
	}
	if err := nodes[2].SendMX("", []string{fw.From}, "From: MAILER-DAEMON@elsewhere.test\r\nSubject: bounce\r\n\r\nundeliverable\r\n"); err != nil {
		t.Fatalf("node 2 refused a bounce to node 1's SRS address: %v", err)
	}
	if !peer.Wait(30*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) == 2 }) {
		t.Fatal("the bounce was not routed back")
	}
	if b := peer.Received()[1]; b.From != "" || len(b.To) != 1 || b.To[0] != "sender@outside.test" {
		t.Fatalf("bounce routed to %v from %q", b.To, b.From)
	}
}

// TestNodeKeepsItsName: a node's name (which owns its queue leases) survives a restart, and
// a second server on the same data directory is refused rather than sharing the name.
func TestNodeKeepsItsName(t *testing.T) {
	storage := config.Storage{Backend: config.BackendPostgres, DSN: pgtest.DSN(t)}
	if err := gateway.MigrateStorage(context.Background(), storage); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	cfg := gatewaytest.Config()
	cfg.Storage = storage
	open := func() (*gateway.Gateway, error) {
		return gateway.New(gateway.Options{Config: cfg, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	}
	name := func(g *gateway.Gateway) string {
		return g.Store().(interface{ Node() string }).Node()
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(); err == nil || !strings.Contains(err.Error(), "another sealgate serve") {
		t.Fatalf("a second server on one data directory: %v", err)
	}
	was := name(first)
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer again.Shutdown(context.Background())
	if now := name(again); now != was || now == "" {
		t.Fatalf("node name %q after a restart, was %q", now, was)
	}
}
