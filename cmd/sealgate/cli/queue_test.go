package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // ends a broken test; nothing asserts on time
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQueueCommandsAgainstRunningGateway drives hold, release, retry, flush and delete from the
// command line while the gateway runs and delivers to a real SMTP peer.
func TestQueueCommandsAgainstRunningGateway(t *testing.T) {
	peer := deliverytest.Start(t, deliverytest.Options{})
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"remote.test": peer.Addr}
	})
	env.AddUser("alice@localhost", "pw")
	d := []string{"--data", env.Dir}
	queue := func() []queueJSON {
		t.Helper()
		r := run(t, "", nil, append(d, "queue", "list", "--json")...)
		if r.code != 0 {
			t.Fatalf("queue list --json: %+v", r)
		}
		var out []queueJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%v: %q", err, r.stdout)
		}
		return out
	}
	cmd := func(args ...string) string {
		t.Helper()
		r := run(t, "", nil, append(d, append([]string{"queue"}, args...)...)...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("queue %v: %+v", args, r)
		}
		return r.stdout
	}
	scans := func() float64 {
		resp, err := http.Get("http://" + env.GW.Addr("http") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^sealgate_queue_scans_total (\S+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatal("no scan counter")
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	// twoScans waits until the runner has looked at the due index twice more.
	twoScans := func() {
		n := scans()
		waitFor(t, "two scans", func() bool { return scans() >= n+2 })
	}
	send := func(subject string) int64 {
		t.Helper()
		c := env.Submission("alice@localhost", "pw")
		defer c.Close()
		before := map[int64]bool{}
		for _, e := range queue() {
			before[e.ID] = true
		}
		if err := c.SendMail("alice@localhost", []string{"bob@remote.test"}, strings.NewReader("From: alice@localhost\r\nSubject: "+subject+"\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		var id int64
		waitFor(t, "the first attempt", func() bool {
			for _, e := range queue() {
				if !before[e.ID] && e.Attempts == 1 {
					id = e.ID
					return true
				}
			}
			return false
		})
		return id
	}

	if r := run(t, "", nil, append(d, "queue", "list", "--json")...); r.stdout != "[]\n" {
		t.Fatalf("empty queue: %q", r.stdout)
	}
	peer.SetRcptReply("bob@remote.test", 451, smtp.EnhancedCode{4, 2, 1}, "Greylisted")
	id := send("first")
	ids := strconv.FormatInt(id, 10)
	line := cmd("list")
	if !strings.HasPrefix(line, ids+" <alice@localhost> bob@remote.test:pending attempts=1 next=") ||
		!strings.Contains(line, `error="4.2.1 127.0.0.1: 451 4.2.1 Greylisted"`) {
		t.Fatalf("queue list: %q", line)
	}

	// Held: neither flush nor retry sends it, though the peer would now accept.
	peer.SetRcptReply("bob@remote.test", 0, smtp.EnhancedCode{}, "")
	cmd("hold", ids)
	if q := queue(); len(q) != 1 || !q[0].Held {
		t.Fatalf("after hold: %+v", q)
	}
	cmd("flush")
	twoScans()
	if n := len(peer.Received()); n != 0 {
		t.Fatalf("held message delivered %d times", n)
	}
	wantError(t, run(t, "", nil, append(d, "queue", "retry", ids)...), "is held; release it first")

	// Released, then retried: delivered within the runner's next looks.
	cmd("release", ids)
	cmd("retry", ids)
	waitFor(t, "delivery", func() bool { return len(peer.Received()) == 1 && len(queue()) == 0 })

	// flush makes a deferred message due at once.
	peer.SetRcptReply("bob@remote.test", 451, smtp.EnhancedCode{4, 2, 1}, "Greylisted")
	send("second")
	peer.SetRcptReply("bob@remote.test", 0, smtp.EnhancedCode{}, "")
	if out := cmd("flush"); out != "1 messages made due now\n" {
		t.Fatalf("flush: %q", out)
	}
	waitFor(t, "flushed delivery", func() bool { return len(peer.Received()) == 2 && len(queue()) == 0 })

	// delete: silently, and with a bounce to the sender.
	peer.SetRcptReply("bob@remote.test", 451, smtp.EnhancedCode{4, 2, 1}, "Greylisted")
	quiet := send("third")
	cmd("delete", strconv.FormatInt(quiet, 10))
	loud := send("fourth")
	cmd("delete", strconv.FormatInt(loud, 10), "--bounce")
	if q := queue(); len(q) != 0 {
		t.Fatalf("after delete: %+v", q)
	}
	inbox := env.Mailbox("alice@localhost", "INBOX")
	if len(inbox) != 1 || !strings.Contains(string(inbox[0].Body), "Subject: fourth\r\n") ||
		!strings.Contains(string(inbox[0].Body), "Final-Recipient: rfc822; bob@remote.test\r\nAction: failed\r\nStatus: 5.0.0\r\n") {
		t.Fatalf("alice's INBOX: %v", inbox)
	}

	wantError(t, run(t, "", nil, append(d, "queue", "retry", "999")...), "no queue entry 999")
	wantError(t, run(t, "", nil, append(d, "queue", "hold", "abc")...), `"abc" is not a queue ID`)
	wantError(t, run(t, "", nil, append(d, "queue", "delete")...), "expected one queue ID")
}
