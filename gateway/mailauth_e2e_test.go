package gateway_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"

	"github.com/sealgate/sealgate/gateway/mailauth"
)

// authResultsFields returns the bodies of every Authentication-Results field of msg, unfolded.
func authResultsFields(msg []byte) []string {
	head, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	head = strings.NewReplacer("\r\n ", " ", "\r\n\t", " ").Replace(head)
	var out []string
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Authentication-Results") {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// TestE2EForgedAuthResultsEveryForm: every way RFC 8601 lets a field name our authserv-id is
// removed from mail arriving on the MX, the results of other services are kept, and the only
// field a reader (go-msgauth's parser) takes for ours is the one the gateway wrote.
func TestE2EForgedAuthResultsEveryForm(t *testing.T) {
	env, _ := securityEnv(t)
	host := env.Config.Hostname
	forms := []string{
		host + "; dmarc=pass header.from=bank.test",
		host + " 1; dmarc=pass header.from=bank.test",
		"(our gateway) " + host + "; dmarc=pass header.from=bank.test",
		`"` + host + `"; dmarc=pass header.from=bank.test`,
		host + ".; dmarc=pass header.from=bank.test",
		strings.ToUpper(host) + "; dmarc=pass header.from=bank.test",
		"\r\n\t" + host + "\r\n\t1 (v)\r\n\t; dmarc=pass header.from=bank.test",
		"(unclosed " + host + "; dmarc=pass header.from=bank.test",
	}
	var msg strings.Builder
	for _, f := range forms {
		msg.WriteString("Authentication-Results: " + f + "\r\n")
	}
	msg.WriteString("Authentication-Results: mx.upstream.test; spf=pass smtp.mailfrom=outside.test\r\n")
	msg.WriteString("From: x@outside.test\r\nSubject: results\r\n\r\nHi.\r\n")
	if err := mx(t, env, "x@outside.test", "bob@localhost", []byte(msg.String())); err != nil {
		t.Fatal(err)
	}
	got := imapFetchAll(t, env, "bob@localhost", bobPW)[0]
	if strings.Contains(string(got), "bank.test") {
		t.Fatalf("a forged Authentication-Results was stored:\n%s", got)
	}
	ours, upstream := 0, 0
	for _, f := range authResultsFields(got) {
		id, _, err := authres.Parse(f)
		ourID, _, ourErr := mailauth.ParseAuthservID(f)
		switch {
		case err == nil && mailauth.SameAuthservID(id, host), ourErr == nil && mailauth.SameAuthservID(ourID, host):
			ours++
		case id == "mx.upstream.test":
			upstream++
		}
	}
	if ours != 1 || upstream != 1 {
		t.Fatalf("%d fields read as ours, %d of upstream; want 1 and 1:\n%s", ours, upstream, got)
	}
}
