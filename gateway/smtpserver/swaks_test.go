package smtpserver_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/config"
)

// TestSwaks sends mail with swaks, a client nobody here wrote: pipelined to the MX, and over
// submission with STARTTLS and each AUTH mechanism.
func TestSwaks(t *testing.T) {
	swaks := peertest.Require(t, "swaks")
	env := start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = false })
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("--server", env.GW.Addr("smtp"), "--helo", "swaks.example.org", "--pipeline",
		"--from", "someone@example.org", "--to", "alice@localhost",
		"--header", "Subject: via swaks", "--body", "line one\n.leading dot\n")
	if !strings.Contains(out, "PIPELINING") {
		t.Fatalf("swaks did not see PIPELINING:\n%s", out)
	}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		run("--server", env.GW.Addr("submission"), "--tls", "--auth", mech,
			"--auth-user", "alice@localhost", "--auth-password", alicePW,
			"--from", "alice@localhost", "--to", "bob@example.test",
			"--header", "From: alice@localhost", "--header", "Subject: swaks "+mech)
	}
	got := env.Mailbox("alice@localhost", "INBOX")
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "\r\nSubject: via swaks\r\n") || !strings.Contains(string(got[0].Body), "\r\n.leading dot\r\n") {
		t.Fatalf("alice: %v", got)
	}
	if got := env.Mailbox("bob@example.test", "INBOX"); len(got) != 2 || !strings.Contains(string(got[1].Body), "with ESMTPSA") {
		t.Fatalf("bob: %v", got)
	}
	// A foreign recipient on the MX is refused, which swaks reports as a failure.
	if out, err := exec.Command(swaks, "--server", env.GW.Addr("smtp"), "--from", "x@example.org", "--to", "victim@example.org").CombinedOutput(); err == nil || !strings.Contains(string(out), "554 5.7.1") {
		t.Fatalf("relay through swaks: %v\n%s", err, out)
	}
}
