package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mailstore/pgstore"
	"github.com/sealgate/sealgate/keys"
)

// sinkDelivery is one message a remote peer took.
type sinkDelivery struct {
	token, rcpt string
	// confirmed: the client sent its next command after our 250 to DATA. Sealgate records
	// a delivery before it says anything more to the peer, so an unconfirmed delivery is one
	// the node may have died before recording: it may be sent again (the duplicate RFC 1047
	// describes, which no SMTP client can rule out), and is not counted as a duplicate.
	confirmed bool
}

// sink is the remote domain's MX: a minimal SMTP server that takes every message and
// records, per recipient, each delivery and whether the client went on after the reply.
type sink struct {
	ln net.Listener
	mu sync.Mutex
	d  []*sinkDelivery
}

func startSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return s
}

var testIDRE = regexp.MustCompile(`(?m)^X-Test-Id: (\S+)\r?$`)

func (s *sink) session(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 sink.remote.test ESMTP")
	var rcpts []string
	var pending []*sinkDelivery // taken, waiting for the client's next command
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return // pending stays unconfirmed
		}
		s.mu.Lock()
		for _, d := range pending {
			d.confirmed = true
		}
		s.mu.Unlock()
		pending = nil
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			tp.PrintfLine("250 sink.remote.test")
		case "MAIL":
			rcpts = nil
			tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			a := arg[strings.IndexByte(arg, '<')+1:]
			rcpts = append(rcpts, strings.ToLower(a[:strings.IndexByte(a, '>')]))
			tp.PrintfLine("250 2.1.5 ok")
		case "DATA":
			tp.PrintfLine("354 go ahead")
			body, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			token := "?"
			if m := testIDRE.FindSubmatch(body); m != nil {
				token = string(m[1])
			}
			s.mu.Lock()
			for _, r := range rcpts {
				d := &sinkDelivery{token: token, rcpt: r}
				s.d = append(s.d, d)
				pending = append(pending, d)
			}
			s.mu.Unlock()
			tp.PrintfLine("250 2.0.0 taken")
		case "RSET", "NOOP":
			tp.PrintfLine("250 2.0.0 ok")
		case "QUIT":
			tp.PrintfLine("221 2.0.0 bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 not here")
		}
	}
}

func (s *sink) deliveries() []sinkDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sinkDelivery, len(s.d))
	for i, d := range s.d {
		out[i] = *d
	}
	return out
}

// clusterNode is one `sealgate serve` of the cluster, with its own data directory and ports.
type clusterNode struct {
	dir, smtp, sub, imap string
	srv                  *server
}

// TestThreeNodesSharePostgres runs three real `sealgate serve` processes on one PostgreSQL
// database, each with its own data directory and ports and the same master key file.
// A message delivered over SMTP through node 1 reaches an IMAP IDLE session on node 2.
// Then, under load through all three nodes — Internet mail to a local mailbox, and
// submitted mail to a local and a remote recipient, the remote domain routed to a sink in
// this test — one node at a time is killed with SIGKILL and restarted. Afterwards every
// message answered 250 is in the mailbox exactly once, every remote recipient of one was
// delivered to the sink exactly once, and the queue is empty.
func TestThreeNodesSharePostgres(t *testing.T) {
	bin := buildBinary(t)
	dsn := gatewaytest.PostgresDSN(t)
	peer := startSink(t)
	dns := dnstest.Start(t, dnstest.Zone{})
	master := filepath.Join(t.TempDir(), "master.key")
	if _, err := keys.LoadOrCreateMasterKey(master); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		n := &clusterNode{dir: filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i+1)),
			smtp: wiretest.FreeAddr(t), sub: wiretest.FreeAddr(t), imap: wiretest.FreeAddr(t)}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf(`[auth]
plaintext_on_loopback = true
[dns]
resolver = %q
[storage]
backend = "postgres"
dsn = %q
[keys]
master_key_file = %q
[queue]
min_backoff = "1s"
max_backoff = "2s"
[outbound.routes]
"remote.test" = %q
`, dns.Addr, dsn, master, peer.ln.Addr().String()) + listen{smtp: n.smtp, submission: n.sub, imap: n.imap}.String()
		if err := os.WriteFile(filepath.Join(n.dir, "sealgate.toml"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	sealgate := func(n *clusterNode, stdin string, args ...string) string {
		t.Helper()
		return runCLI(t, bin, n.dir, stdin, args...)
	}
	sealgate(nodes[0], "", "db", "migrate")
	sealgate(nodes[1], "pw\n", "user", "add", "alice@localhost", "--password-stdin")
	for _, n := range nodes {
		n.srv = startServer(t, bin, n.dir, n.smtp)
	}
	defer func() {
		for _, n := range nodes {
			n.srv.cmd.Process.Signal(syscall.SIGTERM)
			n.srv.cmd.Wait()
			if t.Failed() {
				t.Logf("log of %s:\n%s", filepath.Base(n.dir), n.srv.logs)
			}
		}
	}()

	// (a) Mail through node 1 wakes an IDLE session on node 2.
	exists := make(chan uint32, 16)
	ic, err := imapclient.DialInsecure(nodes[1].imap, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login("alice@localhost", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := ic.Idle()
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.Dial(nodes[0].smtp)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if err := sendOne(c, "idle-probe", false); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case n := <-exists:
		if n != 1 {
			t.Fatalf("node 2 announced EXISTS %d", n)
		}
		t.Logf("node 2's IDLE session heard of node 1's delivery %v after its 250", time.Since(sent).Round(time.Millisecond))
	case <-time.After(30 * time.Second): // ends a broken test only
		t.Fatal("node 2's IDLE session was not told of the message delivered through node 1")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	idle.Wait()
	ic.Logout().Wait()

	// (b) Load through every node while one node at a time is killed and restarted.
	var mu sync.Mutex
	acked := map[string]bool{} // token -> submitted (local and remote recipient)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, n := range nodes {
		for _, submit := range []bool{false, true} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seq := 0
				for ctx.Err() == nil {
					c, err := dialRole(n.smtp, n.sub, submit)
					if err != nil {
						time.Sleep(20 * time.Millisecond) // the node is down
						continue
					}
					for ctx.Err() == nil {
						token := fmt.Sprintf("n%d-%v-%d", i+1, submit, seq)
						seq++
						if err := sendMixed(c, token, submit); err != nil {
							break
						}
						mu.Lock()
						acked[token] = submit
						mu.Unlock()
					}
					c.Close()
				}
			}()
		}
	}
	const rounds = 5
	for round := range rounds {
		victim := nodes[round%len(nodes)]
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		if err := victim.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		victim.srv.cmd.Wait()
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond) // the others go on alone
		victim.srv = startServer(t, bin, victim.dir, victim.smtp)
	}
	stop()
	wg.Wait()

	// Every node is up again; the queue drains.
	deadline := time.Now().Add(60 * time.Second) // ends a broken test only
	for {
		var q []json.RawMessage
		out := sealgate(nodes[2], "", "queue", "list", "--json")
		if err := json.Unmarshal([]byte(out), &q); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		if len(q) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue still holds %d entries:\n%s", len(q), sealgate(nodes[2], "", "queue", "list"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	sealgate(nodes[0], "", "check")

	store, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	inbox := map[string]int{}
	for _, m := range gatewaytest.ReadMailbox(t, store, "alice@localhost", "INBOX") {
		match := testIDRE.FindSubmatch(m.Body)
		if match == nil {
			t.Fatalf("message without a test id: %q", m.Body)
		}
		inbox[string(match[1])]++
	}
	confirmed, unconfirmed := map[string]int{}, map[string]int{}
	for _, d := range peer.deliveries() {
		if d.rcpt != "bob@remote.test" {
			t.Errorf("the sink got %s for %s", d.token, d.rcpt)
		}
		if d.confirmed {
			confirmed[d.token]++
		} else {
			unconfirmed[d.token]++
		}
	}
	lost, remote, retried := 0, 0, 0
	for token, submit := range acked {
		if inbox[token] == 0 {
			lost++
			t.Errorf("acknowledged message %s is not in the mailbox", token)
		}
		if !submit {
			continue
		}
		remote++
		if confirmed[token]+unconfirmed[token] == 0 {
			t.Errorf("acknowledged message %s never reached the remote recipient", token)
		}
		if unconfirmed[token] > 0 {
			retried++
		}
	}
	for token, n := range inbox {
		if n > 1 {
			t.Errorf("message %s is in the mailbox %d times", token, n)
		}
	}
	for token, n := range confirmed {
		if n > 1 {
			t.Errorf("message %s was delivered to the remote recipient %d times", token, n)
		}
	}
	t.Logf("%d kills; %d messages acknowledged (%d with a remote recipient), %d in the mailbox, %d lost; "+
		"%d remote deliveries; %d messages had a delivery cut by a kill right after the peer's 250",
		rounds, len(acked), remote, len(inbox), lost, len(peer.deliveries()), retried)
	if remote < rounds || len(acked)-remote < rounds {
		t.Fatalf("only %d messages acknowledged (%d remote): the load did not exercise the nodes", len(acked), remote)
	}
}

// sendMixed sends one message on c: Internet mail to alice, or (submit) alice's own mail to
// herself and to bob@remote.test, which leaves through the queue.
func sendMixed(c *smtp.Client, token string, submit bool) error {
	from, to := "sender@example.org", []string{"alice@localhost"}
	if submit {
		from, to = "alice@localhost", []string{"alice@localhost", "bob@remote.test"}
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: cluster test\r\nMessage-ID: <%s@cluster.test>\r\nX-Test-Id: %s\r\n\r\n",
		from, strings.Join(to, ", "), token, token)
	w.Write(bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 40))
	return w.Close()
}
