package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
)

// MULTIAPPEND (RFC 3502): one APPEND with several messages, a synchronizing literal among
// them, stores them all with their own flags and answers APPENDUID with the UID set; one
// that goes over the quota stores none of them.
func TestMultiAppend(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	if out := strings.Join(r.cmd("l", "LOGIN alice@localhost "+alicePW), "\n"); !strings.Contains(out, "MULTIAPPEND") {
		t.Fatalf("MULTIAPPEND not advertised:\n%s", out)
	}
	msg := func(subject string, size int) string {
		m := "Subject: " + subject + "\r\n\r\n"
		return m + strings.Repeat("x", size-len(m)-2) + "\r\n"
	}
	one, two, three := msg("one", 100), msg("two", 200), msg("three", 300)
	r.send(fmt.Sprintf("a APPEND INBOX (\\Seen) {%d+}\r\n%s {%d}", len(one), one, len(two)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("no continuation for the synchronizing literal: %q", l)
	}
	r.send(fmt.Sprintf("%s (\\Flagged $Work) \"01-Feb-2024 10:00:00 +0000\" {%d+}\r\n%s", two, len(three), three))
	out := []string{r.line()}
	if last := out[len(out)-1]; !strings.HasPrefix(last, "a OK [APPENDUID ") || !strings.Contains(last, " 1:3]") {
		t.Fatalf("MULTIAPPEND: %q", out)
	}
	r.cmd("s", "SELECT INBOX")
	got := r.cmd("f", "FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE)")
	for i, want := range []string{`FLAGS (\Recent \Seen) INTERNALDATE "%s RFC822.SIZE 100)`, `FLAGS (\Recent) INTERNALDATE "%s RFC822.SIZE 200)`,
		`FLAGS (\Recent \Flagged $Work) INTERNALDATE "01-Feb-2024 10:00:00 +0000" RFC822.SIZE 300)`} {
		pre, post, _ := strings.Cut(want, "%s")
		if len(got) != 4 || !strings.Contains(got[i], pre) || !strings.HasSuffix(got[i], post) {
			t.Fatalf("message %d: want %q in\n%s", i+1, want, strings.Join(got, "\n"))
		}
	}

	a, err := address.Parse("alice@localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Embedded().SetQuota(context.Background(), a, 600+250); err != nil {
		t.Fatal(err)
	}
	out = r.cmd("q", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s", len(one), one, len(two), two))
	if last := out[len(out)-1]; !strings.HasPrefix(last, "q NO [OVERQUOTA]") {
		t.Fatalf("MULTIAPPEND over quota: %q", out)
	}
	if got := strings.Join(r.cmd("n", "STATUS INBOX (MESSAGES)"), "\n"); !strings.Contains(got, "(MESSAGES 3)") {
		t.Fatalf("a refused MULTIAPPEND stored messages:\n%s", got)
	}
}
