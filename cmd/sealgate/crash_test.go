package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// buildBinary compiles sealgate once for a test that runs the real program; with -short such
// a test is skipped.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := filepath.Join(t.TempDir(), "sealgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// listen is the [listen] section of a test's configuration: the listeners given, every other
// one off.
type listen struct{ smtp, submission, imap, imaps string }

func (l listen) String() string {
	return fmt.Sprintf("[listen]\nsmtp = %q\nsubmission = %q\nsubmissions = \"\"\nimap = %q\nimaps = %q\n"+
		"pop3 = \"\"\npop3s = \"\"\nhttp = \"\"\n", l.smtp, l.submission, l.imap, l.imaps)
}

// newDataDir makes a data directory whose sealgate.toml is conf.
func newDataDir(t *testing.T, conf string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sealgate.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runCLI runs the command line of bin on dataDir with stdin and returns its output; it
// fails the test when the command fails.
func runCLI(t *testing.T, bin, dataDir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--data", dataDir}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sealgate %v: %v\n%s", args, err, out)
	}
	return string(out)
}

type server struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func startServer(t *testing.T, bin, dataDir, smtpAddr string) *server {
	t.Helper()
	logs := &bytes.Buffer{}
	cmd := exec.Command(bin, "--data", dataDir, "serve")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
		if err == nil {
			c.Close()
			return &server{cmd: cmd, logs: logs}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("server did not start: %v\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKill9LosesNoAcknowledgedMessage sends mail over concurrent sessions — Internet mail for a
// local mailbox and submitted mail for a remote domain — while the real server is killed with
// SIGKILL at random moments, restarts it, and checks that every message answered 250 is in the
// mailbox or the outbound spool exactly once and no message is there twice.
func TestKill9LosesNoAcknowledgedMessage(t *testing.T) {
	bin := buildBinary(t)
	smtpAddr, subAddr, imapAddr := wiretest.FreeAddr(t), wiretest.FreeAddr(t), wiretest.FreeAddr(t)
	// remote.example routes to a port where nothing listens: its mail stays queued (temporary
	// failure) and is counted in the spool, with no DNS involved.
	// SPF, DKIM and DMARC ask a DNS server of the test's own, which knows no names.
	dns := dnstest.Start(t, dnstest.Zone{})
	dataDir := newDataDir(t, fmt.Sprintf(`[auth]
plaintext_on_loopback = true
[dns]
resolver = %q
[outbound.routes]
"remote.example" = %q
`, dns.Addr, wiretest.FreeAddr(t))+listen{smtp: smtpAddr, submission: subAddr, imap: imapAddr}.String())
	runCLI(t, bin, dataDir, "pw\n", "user", "add", "alice@localhost", "--password-stdin")

	rounds, senders := 5, 8
	if n, err := strconv.Atoi(os.Getenv("SEALGATE_CRASH_ROUNDS")); err == nil && n > 0 {
		rounds = n // bench/soak.sh
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	expungeTried := map[string]bool{} // an expunge was sent: the message may be gone
	expunged := map[string]bool{}     // the expunge was answered OK: the message must be gone
	attempted := 0
	for round := 0; round < rounds; round++ {
		srv := startServer(t, bin, dataDir, smtpAddr)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				for seq := 0; ctx.Err() == nil; {
					// Even senders are Internet peers; odd ones are alice submitting to
					// a remote domain, which goes to the outbound spool.
					submit := s%2 == 1
					c, err := dialRole(smtpAddr, subAddr, submit)
					if err != nil {
						return // server is gone
					}
					for ctx.Err() == nil {
						id := fmt.Sprintf("r%d-s%d-m%d", round, s, seq)
						seq++
						mu.Lock()
						attempted++
						mu.Unlock()
						if err := sendOne(c, id, submit); err != nil {
							break
						}
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					}
					c.Close()
				}
			}(s)
		}
		// An IMAP client expunges messages while the server may be killed.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := expungeSome(ctx, imapAddr, &mu, expungeTried, expunged); err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		srv.cmd.Wait()
		stop()
		wg.Wait()
	}

	// The store's own check finds nothing wrong.
	if out, err := exec.Command(bin, "--data", dataDir, "check").CombinedOutput(); err != nil {
		t.Fatalf("sealgate check after the kills: %v\n%s", err, out)
	}
	// Read the store as the next server would find it.
	store, err := mailstore.Open(dataDir, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	count := map[string]int{}
	idRE := regexp.MustCompile(`X-Test-Id: (\S+)\r\n`)
	for _, m := range gatewaytest.ReadMailbox(t, store, "alice@localhost", "INBOX") {
		match := idRE.FindSubmatch(m.Body)
		if match == nil {
			t.Fatalf("message without test id: %q", m.Body)
		}
		count[string(match[1])]++
	}
	q, err := store.QueueEntries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range q {
		rc, _, err := store.OpenBody(context.Background(), e.BodyID)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		match := idRE.FindSubmatch(body)
		if match == nil || len(e.Recipients) != 1 || e.Recipients[0].Address != "bob@remote.example" {
			t.Fatalf("spool entry %+v: %q", e, body)
		}
		count[string(match[1])]++
	}
	lost, dup := 0, 0
	for id := range acked {
		if count[id] == 0 && !expungeTried[id] {
			lost++
			t.Errorf("acknowledged message %s is missing", id)
		}
	}
	for id := range expunged {
		if count[id] != 0 {
			t.Errorf("message %s is back after its expunge was acknowledged", id)
		}
	}
	for id, n := range count {
		if n > 1 {
			dup++
			t.Errorf("message %s stored %d times", id, n)
		}
	}
	t.Logf("%d kills, %d messages attempted, %d acknowledged, %d expunged over IMAP, %d stored, %d lost, %d duplicated",
		rounds, attempted, len(acked), len(expunged), len(count), lost, dup)
	if len(acked) < rounds {
		t.Fatalf("only %d messages acknowledged: the test did not exercise the server", len(acked))
	}
}

func dialRole(mx, sub string, submit bool) (*smtp.Client, error) {
	if !submit {
		return smtp.Dial(mx)
	}
	c, err := smtp.Dial(sub)
	if err != nil {
		return nil, err
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@localhost", "pw")); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func sendOne(c *smtp.Client, id string, submit bool) error {
	from, to := "sender@example.org", "alice@localhost"
	if submit {
		from, to = "alice@localhost", "bob@remote.example"
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nSubject: crash test\r\nX-Test-Id: %s\r\n\r\n", from, id)
	msg.Write(bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 160))
	return c.SendMail(from, []string{to}, &msg)
}

// expungeSome logs in over IMAP, marks the first message of alice's INBOX \Deleted and
// expunges it by UID, recording its test id as tried before and as expunged after the OK.
func expungeSome(ctx context.Context, addr string, mu *sync.Mutex, tried, done map[string]bool) error {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login("alice@localhost", "pw").Wait(); err != nil {
		return err
	}
	idRE := regexp.MustCompile(`X-Test-Id: (\S+)`)
	for ctx.Err() == nil {
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			return err
		}
		if sel.NumMessages == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}}).Collect()
		if err != nil || len(msgs) != 1 {
			return fmt.Errorf("fetch: %v", err)
		}
		var id string
		for _, b := range msgs[0].BodySection {
			if m := idRE.FindSubmatch(b.Bytes); m != nil {
				id = string(m[1])
			}
		}
		if id == "" {
			return errors.New("no test id")
		}
		uid := imap.UIDSetNum(msgs[0].UID)
		mu.Lock()
		tried[id] = true
		mu.Unlock()
		if err := c.Store(uid, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return err
		}
		if err := c.UIDExpunge(uid).Close(); err != nil {
			return err
		}
		mu.Lock()
		done[id] = true
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
