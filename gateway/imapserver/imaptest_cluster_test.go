package imapserver_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// imaptest's stress mode against two gateway nodes sharing one PostgreSQL database: one
// imaptest process per node, on the same user and mailbox at the same time, so every
// client sees the other node's appends, expunges and flag changes only through the store's
// change feed. imaptest checks each response against what the client must have been told.

const (
	stressUser = "imaptest@localhost"
	stressPW   = "imaptest-secret-pw"
)

// stressRun is one imaptest stress run: how many clients for how many seconds.
type stressRun struct {
	clients, secs int
}

func (r stressRun) args(kit string) []string {
	return []string{
		"mbox=" + filepath.Join(kit, "tests", "default.mbox"),
		"clients=" + strconv.Itoa(r.clients), "secs=" + strconv.Itoa(r.secs),
	}
}

// imapsArgs are imaptest's arguments for the stress user on env's IMAPS listener.
func imapsArgs(t *testing.T, env *gatewaytest.Env) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(env.GW.Addr("imaps"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"host=" + host, "port=" + port, "user=" + stressUser, "pass=" + stressPW, "ssl=any-cert"}
}

// postgresCluster boots n gateways on one PostgreSQL database and adds the stress user once.
func postgresCluster(t *testing.T, n int) []*gatewaytest.Env {
	t.Helper()
	nodes := gatewaytest.StartNodes(t, n)
	nodes[0].AddUser(stressUser, stressPW)
	return nodes
}

// stressNodes runs imaptest against every node at once, run.clients per node, and fails t
// for every Error, Fatal or Panic line of any of them.
func stressNodes(t *testing.T, kit string, nodes []*gatewaytest.Env, run stressRun) {
	t.Helper()
	// The processes are started together and waited for here, rather than as parallel
	// subtests, which run one at a time under -parallel 1.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(run.secs)*time.Second+2*time.Minute)
	defer cancel()
	cmds := make([]*exec.Cmd, len(nodes))
	outs := make([]bytes.Buffer, len(nodes))
	for i, env := range nodes {
		cmds[i] = exec.CommandContext(ctx, filepath.Join(kit, "imaptest"), append(imapsArgs(t, env), run.args(kit)...)...)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Logf("node %d: imaptest: %v", i, err) // non-zero when anything failed; judged below
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("imaptest did not finish: %v", ctx.Err())
	}
	for i := range outs {
		t.Logf("node %d:", i)
		judgeStress(t, outs[i].String())
	}
	quietLogs(t, nodes)
}

// quietLogs fails t for every warning or error the nodes logged: what imaptest cannot see
// (a store failure behind a retried command, a response the server could not encode) shows
// there.
func quietLogs(t *testing.T, nodes []*gatewaytest.Env) {
	t.Helper()
	for i, env := range nodes {
		for _, l := range strings.Split(env.Log.String(), "\n") {
			if strings.Contains(l, " level=WARN ") || strings.Contains(l, " level=ERROR ") {
				t.Errorf("node %d logged: %.400s", i, l)
			}
		}
	}
}

// judgeStress fails t unless imaptest's output out shows a finished run without errors.
func judgeStress(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "Totals:") {
		t.Errorf("imaptest stress did not finish:\n%s", out)
		return
	}
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Error:") || strings.HasPrefix(l, "Fatal:") || strings.HasPrefix(l, "Panic:") {
			errs = append(errs, l)
		}
	}
	if len(errs) > 0 {
		t.Errorf("imaptest stress: %d errors, the first:\n%s", len(errs), strings.Join(errs[:min(len(errs), 20)], "\n"))
	}
	t.Logf("%s", out[strings.Index(out, "Totals:"):])
}

// Two nodes sharing one database, for 15 seconds each way: two imaptest processes, five
// clients each, one process per node; then one imaptest process whose ten clients connect
// to the nodes in turn, so that the state imaptest keeps for all its clients (the flags one
// client set, the messages one expunged) is checked against what the other node tells.
//
// imaptest's checkpoint mode (every client must see the same mailbox) would check more, but
// the kit's release-2.3 imaptest asserts (client-state.c, plan_size == 0) when the run ends
// during a checkpoint, which it does in about half the runs.
func TestImaptestStressTwoNodes(t *testing.T) {
	kit := imaptestKit(t)
	t.Run("process-per-node", func(t *testing.T) {
		stressNodes(t, kit, postgresCluster(t, 2), stressRun{clients: 5, secs: 15})
	})
	t.Run("round-robin", func(t *testing.T) {
		nodes := postgresCluster(t, 2)
		args := append(imapsArgs(t, nodes[0]), stressRun{clients: 10, secs: 15}.args(kit)...)
		relay := roundRobin(t, nodes)
		for i, a := range args {
			if strings.HasPrefix(a, "port=") {
				args[i] = "port=" + relay
			}
		}
		stdout, stderr := runImaptest(t, kit, args)
		judgeStress(t, stdout+stderr)
		quietLogs(t, nodes)
	})
}

// roundRobin listens on loopback and relays each connection, as it is, to the IMAPS
// listener of the next node in turn (TLS ends at the node). It returns its port.
func roundRobin(t *testing.T, nodes []*gatewaytest.Env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", nodes[i%len(nodes)].GW.Addr("imaps"))
			if err != nil {
				conn.Close()
				continue
			}
			go func() { io.Copy(up, conn); up.Close() }()
			go func() { io.Copy(conn, up); conn.Close() }()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// The long run (a soak), when SEALGATE_IMAPTEST_LONG gives its length in seconds (CI sets
// 180): ten clients on the embedded store, and on two PostgreSQL nodes (five on each).
func TestImaptestStressLong(t *testing.T) {
	secs, err := strconv.Atoi(os.Getenv("SEALGATE_IMAPTEST_LONG"))
	if err != nil || secs <= 0 {
		t.Skip("SEALGATE_IMAPTEST_LONG (seconds) is not set")
	}
	kit := imaptestKit(t)
	t.Run("embedded", func(t *testing.T) {
		env := startOn(t, nil)
		env.AddUser(stressUser, stressPW)
		stressNodes(t, kit, []*gatewaytest.Env{env}, stressRun{clients: 10, secs: secs})
	})
	t.Run("postgres-two-nodes", func(t *testing.T) {
		stressNodes(t, kit, postgresCluster(t, 2), stressRun{clients: 5, secs: secs})
	})
}
