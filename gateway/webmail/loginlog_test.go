package webmail_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLoginLogged: web mail logins, failed and successful, are log records with the
// protocol, client address, user and result, and so is a message sent; neither the password
// nor the session cookie is in the log.
func TestLoginLogged(t *testing.T) {
	e := start(t)
	b := e.browser(t)
	b.login(alice, "wrong-password-xyz")
	b.mustLogin(alice, alicePW)
	for _, res := range []string{"failed", "ok"} {
		if _, ok := e.Log.Find("login", map[string]string{"protocol": "webmail", "client": "127.0.0.1", "user": alice, "result": res}); !ok {
			t.Fatalf("no %s web mail login in the log:\n%s", res, e.Log.String())
		}
	}
	if r := b.sendForm(map[string]string{"to": bob, "subject": "logged", "body": "hi"}, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	if rec, ok := e.Log.Find("message accepted", map[string]string{"protocol": "webmail", "client": "127.0.0.1", "user": alice,
		"sender": alice, "recipients": "[" + bob + "]", "result": "accepted"}); !ok || rec["size"] == "" || rec["id"] == "" {
		t.Fatalf("no record of the message sent:\n%s", e.Log.String())
	}
	logs := e.Log.String()
	u, _ := url.Parse(b.base + "/mail/")
	for _, c := range b.c.Jar.Cookies(u) {
		if strings.Contains(logs, c.Value) && len(c.Value) > 8 {
			t.Errorf("cookie %s is in the log", c.Name)
		}
	}
	if strings.Contains(logs, alicePW) || strings.Contains(logs, "wrong-password-xyz") {
		t.Error("a password is in the log")
	}
}
