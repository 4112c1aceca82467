package imapserver_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// APPEND and COPY past the account's storage quota are refused with NO [OVERQUOTA]
// (RFC 9208 §5), not a server error, and store nothing.
func TestAppendAndCopyOverQuota(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	appendMsg(t, c, "INBOX", simpleMsg("first", "fits"), nil)
	setQuota(t, env, "alice@localhost", 10)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	msg := "Subject: big\r\n\r\n" + strings.Repeat("x", 100) + "\r\n"
	out := r.cmd("a2", "APPEND INBOX {"+strconv.Itoa(len(msg))+"+}\r\n"+msg)
	if last := out[len(out)-1]; !strings.HasPrefix(last, "a2 NO [OVERQUOTA]") {
		t.Fatalf("APPEND over quota: %q", out)
	}
	r.cmd("a3", "SELECT INBOX")
	out = r.cmd("a4", "COPY 1 INBOX")
	if last := out[len(out)-1]; !strings.HasPrefix(last, "a4 NO [OVERQUOTA]") {
		t.Fatalf("COPY over quota: %q", out)
	}
	out = r.cmd("a5", "STATUS INBOX (MESSAGES)")
	if !strings.Contains(strings.Join(out, "\n"), "MESSAGES 1)") {
		t.Fatalf("something was stored: %q", out)
	}
}

// GETQUOTAROOT and GETQUOTA (RFC 9208) report the account's one quota root and its STORAGE
// in KiB; an account without a limit has no quota root.
func TestGetQuota(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	if out := joined(r.cmd("c", "CAPABILITY")); !strings.Contains(out, " QUOTA QUOTA=RES-STORAGE") {
		t.Fatalf("QUOTA not advertised:\n%s", out)
	}
	if out := r.cmd("a2", "GETQUOTAROOT INBOX"); out[0] != "* QUOTAROOT INBOX" || !strings.HasPrefix(out[1], "a2 OK") {
		t.Fatalf("GETQUOTAROOT without a limit: %q", out)
	}
	if out := r.cmd("a3", `GETQUOTA ""`); !strings.HasPrefix(out[len(out)-1], "a3 NO [NONEXISTENT]") {
		t.Fatalf("GETQUOTA without a limit: %q", out)
	}
	setQuota(t, env, "alice@localhost", 10<<20)
	msg := "Subject: q\r\n\r\n" + strings.Repeat("x", 3000) + "\r\n"
	r.cmd("a4", "APPEND INBOX {"+strconv.Itoa(len(msg))+"+}\r\n"+msg)
	out := joined(r.cmd("a5", "GETQUOTAROOT INBOX"))
	if !strings.Contains(out, `* QUOTAROOT INBOX ""`) || !strings.Contains(out, `* QUOTA "" (STORAGE 3 10240)`) {
		t.Fatalf("GETQUOTAROOT:\n%s", out)
	}
	if out := joined(r.cmd("a6", `GETQUOTA ""`)); !strings.Contains(out, `* QUOTA "" (STORAGE 3 10240)`) {
		t.Fatalf("GETQUOTA:\n%s", out)
	}
	if out := r.cmd("a7", `GETQUOTA "other"`); !strings.HasPrefix(out[len(out)-1], "a7 NO [NONEXISTENT]") {
		t.Fatalf("GETQUOTA of an unknown root: %q", out)
	}
}

// setQuota sets the storage quota of the account of addr, in bytes.
func setQuota(t *testing.T, env *gatewaytest.Env, addr string, bytes int64) {
	t.Helper()
	a, err := address.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Embedded().SetQuota(context.Background(), a, bytes); err != nil {
		t.Fatal(err)
	}
}
