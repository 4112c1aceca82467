package imapserver_test

import (
	"strings"
	"testing"
)

// A subscription outlives its mailbox (RFC 9051 §6.3.7) and is the mailbox's again when
// the name is created anew; CREATE itself subscribes nothing.
func TestSubscriptionOutlivesMailbox(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("l", "LOGIN alice@localhost "+alicePW)
	all := func(lines []string) string { return strings.Join(lines, "\n") }
	r.cmd("c1", "CREATE Projects/Old")
	if out := all(r.cmd("s0", `LIST (SUBSCRIBED) "" "Projects*"`)); strings.Contains(out, "* LIST") {
		t.Fatalf("CREATE subscribed:\n%s", out)
	}
	r.cmd("s1", "SUBSCRIBE Projects/Old")
	r.cmd("d1", "DELETE Projects/Old")
	out := all(r.cmd("s2", `LIST (SUBSCRIBED) "" "*"`))
	if !strings.Contains(out, `\NonExistent`) || !strings.Contains(out, `"Projects/Old"`) {
		t.Fatalf("the subscription went with the mailbox:\n%s", out)
	}
	if out := all(r.cmd("s3", `LIST "" "*"`)); strings.Contains(out, "Projects/Old") {
		t.Fatalf("a subscription is listed as a mailbox:\n%s", out)
	}
	r.cmd("c2", "CREATE Projects/Old")
	if out := all(r.cmd("s4", `LIST (SUBSCRIBED) "" "Projects/Old"`)); !strings.Contains(out, `\Subscribed`) || strings.Contains(out, `\NonExistent`) {
		t.Fatalf("the mailbox made anew is not subscribed:\n%s", out)
	}
	r.cmd("u1", "UNSUBSCRIBE Projects/Old")
	r.cmd("d2", "DELETE Projects/Old")
	if out := all(r.cmd("s5", `LIST (SUBSCRIBED) "" "*"`)); strings.Contains(out, "Projects/Old") {
		t.Fatalf("unsubscribed, yet listed:\n%s", out)
	}
	// A name without a mailbox can be subscribed and unsubscribed.
	if out := r.cmd("s6", "SUBSCRIBE Someday"); !strings.HasPrefix(out[len(out)-1], "s6 OK") {
		t.Fatalf("SUBSCRIBE a name without a mailbox: %q", out)
	}
	if out := all(r.cmd("s7", `LSUB "" "Some*"`)); !strings.Contains(out, "Someday") {
		t.Fatalf("LSUB:\n%s", out)
	}
}
