package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

func TestMailSendListReadReplyForward(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("alice@example.test", "alice-pw-1")
	env.AddUser("bob@example.test", "bob-pw-1")
	gw := env.GW
	as := func(user, pw string) map[string]string { return map[string]string{"SEALGATE_PASSWORD": pw} }
	common := func(user string, extra ...string) []string {
		return append([]string{"mail", "--smtp", gw.Addr("submission"), "--imap", gw.Addr("imap"), "--user", user, "--insecure"}, extra...)
	}
	att := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(att, []byte("attached notes\n"), 0o600)

	// alice → bob, body from stdin, with an attachment.
	r := run(t, "Hello Bob,\nthe plan is ready.\n", as("alice", "alice-pw-1"),
		append(common("alice@example.test"), "send", "--to", "bob@example.test", "--subject", "The plan", "--attach", att)...)
	if r.code != 0 || r.stdout != "sent to bob@example.test\n" {
		t.Fatalf("send: %+v", r)
	}
	if got := env.Mailbox("bob@example.test", "INBOX"); len(got) != 1 || !strings.Contains(string(got[0].Body), "filename=notes.txt") {
		t.Fatalf("bob's INBOX: %v", got)
	}
	// alice keeps a copy in her \Sent folder, already read.
	r = run(t, "", as("alice", "alice-pw-1"), append(common("alice@example.test"), "folders")...)
	if r.code != 0 || !regexp.MustCompile(`(?m)^Sent +1 messages +0 unread`).MatchString(r.stdout) {
		t.Fatalf("alice's folders after send: %+v", r)
	}
	if got := env.Mailbox("alice@example.test", "Sent"); len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: The plan") || !strings.Contains(string(got[0].Body), "filename=notes.txt") {
		t.Fatalf("alice's Sent: %v", got)
	}

	// bob lists (headers only: still unread afterwards) and reads.
	r = run(t, "", as("bob", "bob-pw-1"), append(common("bob@example.test"), "list")...)
	if r.code != 0 || !regexp.MustCompile(`(?m)^N   1  .*alice@example.test.*The plan`).MatchString(r.stdout) {
		t.Fatalf("list: %+v", r)
	}
	r = run(t, "", as("bob", "bob-pw-1"), append(common("bob@example.test"), "list")...)
	if !strings.HasPrefix(r.stdout, "N ") {
		t.Fatalf("list marked the message read: %q", r.stdout)
	}
	r = run(t, "", as("bob", "bob-pw-1"), append(common("bob@example.test"), "read", "1")...)
	for _, want := range []string{"From:     alice@example.test", "Subject:  The plan", "Security: Arrived unencrypted; Not signed", "the plan is ready.", "[attachment 1: notes.txt, text/plain"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("read lacks %q: %+v", want, r)
		}
	}
	r = run(t, "", as("bob", "bob-pw-1"), append(common("bob@example.test"), "folders")...)
	if r.code != 0 || !regexp.MustCompile(`(?m)^INBOX +1 messages +0 unread`).MatchString(r.stdout) || !strings.Contains(r.stdout, "Sent") {
		t.Fatalf("folders: %+v", r)
	}

	// bob replies; alice gets a threaded, quoting reply.
	r = run(t, "Thanks!\n", as("bob", "bob-pw-1"), append(common("bob@example.test"), "reply", "1")...)
	if r.code != 0 || r.stdout != "sent to alice@example.test\n" {
		t.Fatalf("reply: %+v", r)
	}
	if got := env.Mailbox("bob@example.test", "Sent"); len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: Re: The plan") {
		t.Fatalf("bob's Sent after the reply: %v", got)
	}
	got := env.Mailbox("alice@example.test", "INBOX")
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "Subject: Re: The plan") || !strings.Contains(string(got[0].Body), "In-Reply-To: <") ||
		!strings.Contains(string(got[0].Body), "> the plan is ready.") {
		t.Fatalf("reply as delivered: %v", got)
	}
	// bob forwards with the attachment.
	r = run(t, "FYI\n", as("bob", "bob-pw-1"), append(common("bob@example.test"), "forward", "1", "--to", "alice@example.test")...)
	if r.code != 0 {
		t.Fatalf("forward: %+v", r)
	}
	got = env.Mailbox("alice@example.test", "INBOX")
	if len(got) != 2 || !strings.Contains(string(got[1].Body), "Subject: Fwd: The plan") || !strings.Contains(string(got[1].Body), "filename=notes.txt") {
		t.Fatalf("forward as delivered: %v", got)
	}

	// The same through implicit TLS, settings from the config file, password on stdin.
	cfgFile := filepath.Join(t.TempDir(), "mail.toml")
	os.WriteFile(cfgFile, []byte(`smtp = "`+gw.Addr("submissions")+`"
imap = "`+gw.Addr("imaps")+`"
user = "alice@example.test"
implicit_tls = true
insecure = true
`), 0o600)
	r = run(t, "alice-pw-1\n", map[string]string{"SEALGATE_MAIL_CONFIG": cfgFile}, "mail", "list", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "Re: The plan") || !strings.Contains(r.stdout, "Fwd: The plan") {
		t.Fatalf("list over implicit TLS: %+v", r)
	}
}

func TestMailErrors(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("alice@example.test", "alice-pw-1")
	gw := env.GW
	pw := map[string]string{"SEALGATE_PASSWORD": "alice-pw-1"}
	base := []string{"mail", "--smtp", gw.Addr("submission"), "--imap", gw.Addr("imap"), "--user", "alice@example.test"}
	noCfg := func(m map[string]string) map[string]string {
		m["SEALGATE_MAIL_CONFIG"] = filepath.Join(t.TempDir(), "none.toml")
		return m
	}
	wantError(t, run(t, "", noCfg(pw), append(base, "list")...), "certificate is not trusted")
	wantError(t, run(t, "", noCfg(pw), append(base, "list")...), "--insecure")
	ins := append(base, "--insecure")
	wantError(t, run(t, "", noCfg(map[string]string{"SEALGATE_PASSWORD": "wrong"}), append(ins, "list")...), "refused the login as alice@example.test")
	wantError(t, run(t, "", noCfg(map[string]string{}), append(ins, "list")...), "no password")
	wantError(t, run(t, "", noCfg(pw), append(ins, "read", "7")...), "no message 7 in INBOX")
	wantError(t, run(t, "", noCfg(pw), append(ins, "read", "x")...), "not a message number")
	wantError(t, run(t, "body", noCfg(pw), append(ins, "send", "--subject", "x")...), "no recipients")
	wantError(t, run(t, "body", noCfg(pw), append(ins, "send", "--to", "nobody@example.test")...), "refused the message: 550")
	wantError(t, run(t, "", noCfg(pw), "mail", "--imap", "127.0.0.1:1", "--user", "a@b.test", "list"), "cannot connect to the IMAP server 127.0.0.1:1")
	wantError(t, run(t, "", noCfg(pw), append(ins, "forward", "1")...), "--to")
	// Policy rejection reaches the user with its reason.
	if r := run(t, "", nil, "--data", env.Dir, "policy", "set", "alice@example.test", "outbound.encrypt=required"); r.code != 0 {
		t.Fatalf("policy set: %+v", r)
	}
	wantError(t, run(t, "secret", noCfg(pw), append(ins, "send", "--to", "carol@remote.test")...), "refused the message: 550 5.7.1 Security policy refuses this message for carol@remote.test")
}
