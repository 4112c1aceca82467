package smtpserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/config"
)

// A session that tries many unknown recipients (address harvesting) is slowed down and then
// dropped with 421 4.7.0; known recipients in it are accepted as usual until then.
func TestUnknownRecipientsEndSession(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxUnknownRecipients = 4 })
	s := greet(t, env.GW.Addr("smtp"))
	s.send("MAIL FROM:<harvester@example.org>\r\n")
	if r := s.reply(); !strings.HasPrefix(r[0], "250") {
		t.Fatalf("MAIL: %v", r)
	}
	s.send("RCPT TO:<alice@localhost>\r\n")
	if r := s.reply(); !strings.HasPrefix(r[0], "250") {
		t.Fatalf("known recipient: %v", r)
	}
	// 2,000 guesses pipelined in one write, as a harvester sends them.
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "RCPT TO:<guess%d@localhost>\r\n", i)
	}
	s.send(b.String())
	for i := range 4 {
		if r := s.reply(); !strings.HasPrefix(r[0], "550 5.1.1") {
			t.Fatalf("unknown recipient %d: %v", i+1, r)
		}
	}
	if r := s.reply(); !strings.HasPrefix(r[0], "421 4.7.0") {
		t.Fatalf("after 4 unknown recipients: %v", r)
	}
	if line, err := s.r.ReadString('\n'); err == nil {
		t.Fatalf("session still open after 421: %q", line)
	}
}
