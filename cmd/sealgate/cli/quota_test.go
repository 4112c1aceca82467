package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

func TestUserQuota(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data", dir}
	if r := run(t, "s3cret\n", nil, append(d, "user", "add", "alice@localhost", "--password-stdin")...); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	writeConfig(t, dir, "[limits]\nmailbox_quota = \"1MiB\"\n")
	s, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Users(context.Background())
	if err != nil || len(u) != 1 {
		t.Fatal(u, err)
	}
	msg := "Subject: q\r\n\r\n" + strings.Repeat("x", 3072-14)
	if _, err := s.Deliver(context.Background(), mailstore.Delivery{Copies: []mailstore.Copy{{
		Body: msgbuf.FromBytes([]byte(msg)), Local: []mailstore.Target{{UserID: u[0].ID}}}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	quota := func(args ...string) result {
		t.Helper()
		return run(t, "", nil, append(append(d, "user", "quota", "Alice@localhost"), args...)...)
	}
	if r := quota(); r.code != 0 || r.stdout != "alice@localhost: 3.0 KiB of 1.0 MiB used (0%, default)\n" {
		t.Fatalf("quota: %+v", r)
	}
	var j struct {
		Address  string `json:"address"`
		Used     int64  `json:"used"`
		Limit    *int64 `json:"limit"`
		OwnLimit bool   `json:"own_limit"`
	}
	r := quota("--json")
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 || j.Address != "alice@localhost" || j.Used != 3072 ||
		j.Limit == nil || *j.Limit != 1<<20 || j.OwnLimit {
		t.Fatalf("quota --json: %+v %+v %v", r, j, err)
	}
	if r := quota("--set", "4KiB"); r.code != 0 || r.stdout != "alice@localhost: 3.0 KiB of 4.0 KiB used (75%, own limit)\n" {
		t.Fatalf("quota --set: %+v", r)
	}
	r = quota("--unlimited", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 || j.Limit != nil || !j.OwnLimit || !strings.Contains(r.stdout, `"limit": null`) {
		t.Fatalf("quota --unlimited: %+v %v", r, err)
	}
	if r := quota(); r.stdout != "alice@localhost: 3.0 KiB used, unlimited (own limit)\n" {
		t.Fatalf("unlimited: %+v", r)
	}
	if r := quota("--default"); r.code != 0 || !strings.HasSuffix(r.stdout, "of 1.0 MiB used (0%, default)\n") {
		t.Fatalf("quota --default: %+v", r)
	}
	wantError(t, quota("--set", "0"), "--unlimited")
	wantError(t, quota("--set", "lots"), "not a size")
	wantError(t, quota("--set", "1MiB", "--unlimited"), "at most one")
	wantError(t, run(t, "", nil, append(d, "user", "quota", "nobody@localhost", "--set", "1KiB")...), "no user nobody@localhost")
	wantError(t, run(t, "", nil, append(d, "user", "quota", "nobody@localhost")...), "no user nobody@localhost")
	wantError(t, run(t, "", nil, append(d, "user", "quota")...), "ADDRESS")
}

// A limit set by the CLI while the server runs refuses mail at once.
func TestUserQuotaReachesRunningServer(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("dora@localhost", "pw-dora-123456")
	env.Deliver(t, "dora@localhost", "Subject: one\r\n\r\nfirst\r\n")
	if r := run(t, "", nil, "--data", env.Dir, "user", "quota", "dora@localhost", "--set", "16"); r.code != 0 {
		t.Fatalf("quota --set: %+v", r)
	}
	c, err := smtp.Dial(env.GW.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Mail("x@example.org", nil)
	err = c.Rcpt("dora@localhost", nil)
	if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 2, 2}) {
		t.Fatalf("RCPT for a full mailbox: %v", err)
	}
}
