package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestQueueFailuresBeforeRecipients submits one message to five recipients whose next hops fail
// before any RCPT: permanently (550 to MAIL, a domain that does not exist, a null MX) and
// temporarily (451 to MAIL). The permanent ones bounce on the first attempt in one DSN in the
// sender's INBOX; the temporary ones stay queued and `queue list` shows why, in text and JSON.
func TestQueueFailuresBeforeRecipients(t *testing.T) {
	refuse := deliverytest.StartRaw(t, deliverytest.RawOptions{Mail: "550 5.7.1 Sender refused"})
	later := deliverytest.StartRaw(t, deliverytest.RawOptions{Mail: "451 4.3.0 Local error in processing"})
	resolver := &deliverytest.Resolver{MX: map[string][]*net.MX{"nullmx.test": {{Host: ".", Pref: 0}}}}
	env := gatewaytest.StartWith(t, gateway.Options{Resolver: resolver}, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"refuse.test": refuse.Addr, "later.test": later.Addr}
	})
	env.AddUser("alice@localhost", "pw")
	c := env.Submission("alice@localhost", "pw")
	rcpts := []string{"bob@refuse.test", "carol@nowhere.test", "dan@nullmx.test", "erin@later.test", "frank@later.test"}
	if err := c.SendMail("alice@localhost", rcpts, strings.NewReader("From: alice@localhost\r\nSubject: five\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the bounce", func() bool { return len(env.Mailbox("alice@localhost", "INBOX")) == 1 })
	dsn := string(env.Mailbox("alice@localhost", "INBOX")[0].Body)
	for _, want := range []string{
		"Final-Recipient: rfc822; bob@refuse.test\r\nAction: failed\r\nStatus: 5.7.1\r\n",
		"Diagnostic-Code: smtp; 550 5.7.1 Sender refused\r\n",
		"Final-Recipient: rfc822; carol@nowhere.test\r\nAction: failed\r\nStatus: 5.1.2\r\n",
		"Final-Recipient: rfc822; dan@nullmx.test\r\nAction: failed\r\nStatus: 5.1.10\r\n",
		"Subject: five\r\n",
	} {
		if !strings.Contains(dsn, want) {
			t.Fatalf("DSN lacks %q:\n%s", want, dsn)
		}
	}
	if strings.Contains(dsn, "later.test") {
		t.Fatalf("DSN names a recipient still being tried:\n%s", dsn)
	}

	d := []string{"--data", env.Dir}
	r := run(t, "", nil, append(d, "queue", "list", "--json")...)
	var q []queueJSON
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil || len(q) != 1 {
		t.Fatalf("queue list --json: %v %+v", err, r)
	}
	const why = "4.3.0 127.0.0.1: 451 4.3.0 Local error in processing"
	if q[0].Attempts != 1 || q[0].LastError != why {
		t.Fatalf("entry %+v", q[0])
	}
	state := map[string]queueRcptJSON{}
	for _, rc := range q[0].Recipients {
		state[rc.Address] = rc
	}
	for _, a := range []string{"erin@later.test", "frank@later.test"} {
		if state[a].State != "pending" || state[a].LastError != why {
			t.Fatalf("%s: %+v", a, state[a])
		}
	}
	for _, a := range []string{"bob@refuse.test", "carol@nowhere.test", "dan@nullmx.test"} {
		if state[a].State != "failed" || !strings.HasPrefix(state[a].LastError, "5.") {
			t.Fatalf("%s: %+v", a, state[a])
		}
	}
	r = run(t, "", nil, append(d, "queue", "list")...)
	if !strings.Contains(r.stdout, " erin@later.test:pending frank@later.test:pending attempts=1 ") ||
		!strings.Contains(r.stdout, ` error="`+why+`"`) {
		t.Fatalf("queue list: %q", r.stdout)
	}
	for _, a := range rcpts {
		result := "failed"
		if strings.HasSuffix(a, "@later.test") {
			result = "deferred"
		}
		if !strings.Contains(env.Log.String(), "rcpt="+a+" result="+result) {
			t.Fatalf("no log line for %s:\n%s", a, env.Log.String())
		}
	}
	// The log has the message's way: accepted and queued, each recipient's outcome with the
	// sender, the bounce of the three that failed.
	acc, ok := env.Log.Find("message accepted", map[string]string{"sender": "alice@localhost", "user": "alice@localhost", "result": "accepted"})
	if !ok || acc["queue_ids"] != fmt.Sprintf("[%d]", q[0].ID) {
		t.Fatalf("no accepted message queued as %d: %v\n%s", q[0].ID, acc, env.Log.String())
	}
	if _, ok := env.Log.Find("queue delivery", map[string]string{"queue_id": fmt.Sprint(q[0].ID), "sender": "alice@localhost", "rcpt": "bob@refuse.test", "result": "failed"}); !ok {
		t.Fatalf("no delivery record with the sender:\n%s", env.Log.String())
	}
	if _, ok := env.Log.Find("message bounced", map[string]string{"queue_id": fmt.Sprint(q[0].ID), "sender": "alice@localhost",
		"recipients": "[bob@refuse.test carol@nowhere.test dan@nullmx.test]", "result": "bounced", "dsn": "true"}); !ok {
		t.Fatalf("no bounce record:\n%s", env.Log.String())
	}
}
