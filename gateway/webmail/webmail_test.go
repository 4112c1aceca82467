package webmail_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/gateway/webmail"
)

func TestLoginSessionLogout(t *testing.T) {
	e := start(t)
	b := e.browser(t)
	if r := b.get("/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/mail/" {
		t.Fatalf("/ = %d %q, want a redirect to /mail/", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.get("/mail/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/mail/login" {
		t.Fatalf("unauthenticated /mail/ = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r := b.get("/mail/login")
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"Cache-Control":          "no-store",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}

	if r := b.login(alice, "wrong"); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong address or password") {
		t.Fatalf("bad password: %d %s", r.StatusCode, r.body)
	}
	r = b.login(alice, alicePW)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	var sc *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "sealgate_session" && c.Value != "" {
			sc = c
		}
	}
	if sc == nil {
		t.Fatal("no session cookie")
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || len(sc.Value) < 40 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict and a long random id", sc)
	}
	if sc.Secure {
		t.Error("cookie is Secure on plain HTTP: the browser would never send it back")
	}
	page := b.get("/mail/")
	if page.StatusCode != 200 || !strings.Contains(page.body, alice) || !strings.Contains(page.body, "INBOX") {
		t.Fatalf("inbox: %d %s", page.StatusCode, page.body)
	}
	// Logout needs the token too.
	if r := b.post("/mail/logout", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without token: %d", r.StatusCode)
	}
	if r := b.postCSRF("/mail/", "/mail/logout", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := b.get("/mail/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout /mail/ = %d, want the login redirect", r.StatusCode)
	}
	// The old session id is dead on the server, not just forgotten by the browser.
	req, _ := http.NewRequest("GET", e.base+"/mail/", nil)
	req.AddCookie(&http.Cookie{Name: "sealgate_session", Value: sc.Value})
	if r := e.browser(t).do(req); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed session cookie after logout: %d", r.StatusCode)
	}
}

// X-Forwarded-Proto counts only from a trusted proxy ([http] trusted_proxies): from anyone
// else it is removed in front of web mail (TestE2ETrustedProxies in gateway).
func TestSecureCookieOverTLS(t *testing.T) {
	e := start(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.0/8"} })
	b := e.browser(t)
	req, _ := http.NewRequest("GET", e.base+"/mail/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	r := b.do(req)
	var found bool
	for _, c := range r.Cookies() {
		if c.Name == "__Host-sealgate_login" {
			found = c.Secure && c.Path == "/" && c.HttpOnly
		}
	}
	if !found {
		t.Fatalf("behind TLS the login cookie must be __Host-, Secure, HttpOnly: %v", r.Header["Set-Cookie"])
	}
}

type nopPipeline struct{}

func (nopPipeline) Process(context.Context, *pipeline.Envelope, *msgbuf.Buffer) (mailstore.Delivered, error) {
	return mailstore.Delivered{}, nil
}

func TestLoginThrottled(t *testing.T) {
	e := start(t)
	authn := auth.New(auth.Options{Accounts: e.GW.Store(), Throttle: auth.NewThrottle(auth.ThrottleOptions{
		FreeFailures: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, AccountFailures: 3})})
	b := e.browserOn(t, webmail.Options{Store: e.GW.Store(), Index: e.GW.Index(), Auth: authn})
	for i := range 3 {
		if r := b.login(alice, "guess"+fmt.Sprint(i)); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	r := b.login(alice, alicePW)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed logins") {
		t.Fatalf("the failing network is throttled, the right password too: %d %s", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, "Wrong address") {
		t.Fatal("throttled answer must differ from a wrong password")
	}
}

func TestCSRFRefused(t *testing.T) {
	e := start(t)
	e.deliver(t, "carol@remote.test", alice, "From: carol@remote.test\nTo: alice@example.test\nSubject: keep me\n\nhello\n")
	b := e.browser(t)
	b.mustLogin(alice, alicePW)
	tok := b.csrf("/mail/")
	cases := map[string]func() response{
		"no token": func() response {
			return b.post("/mail/action", url.Values{"box": {"INBOX"}, "uid": {"1"}, "op": {"delete"}})
		},
		"wrong token": func() response {
			return b.post("/mail/action", url.Values{"box": {"INBOX"}, "uid": {"1"}, "op": {"delete"}, "csrf": {tok + "x"}})
		},
		"cross-origin": func() response {
			req, _ := http.NewRequest("POST", e.base+"/mail/action", strings.NewReader(url.Values{"box": {"INBOX"}, "uid": {"1"}, "op": {"delete"}, "csrf": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			return b.do(req)
		},
		"send without token": func() response {
			return b.post("/mail/send", url.Values{"to": {bob}, "subject": {"forged"}, "body": {"x"}})
		},
		"key upload without token": func() response {
			return b.post("/mail/keys", url.Values{"key": {"x"}})
		},
	}
	for name, f := range cases {
		if r := f(); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.StatusCode)
		}
	}
	if got := e.Mailbox(alice, "INBOX"); len(got) != 1 {
		t.Fatalf("a refused request changed the mailbox: %v", got)
	}
	if got := e.Mailbox(bob, "INBOX"); len(got) != 0 {
		t.Fatalf("a refused send delivered mail: %v", got)
	}
	// Login CSRF: a form posted without the login cookie's token is refused.
	other := e.browser(t)
	if r := other.post("/mail/login", url.Values{"user": {alice}, "password": {alicePW}, "csrf": {"made-up"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("login without the login token: %d", r.StatusCode)
	}
	// With the right token the same request works.
	if r := b.post("/mail/action", url.Values{"box": {"INBOX"}, "uid": {"1"}, "op": {"delete"}, "csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("with token: %d %s", r.StatusCode, r.body)
	}
	if got := e.Mailbox(alice, "Trash"); len(got) != 1 {
		t.Fatalf("Trash = %v", got)
	}
}

var rowRE = regexp.MustCompile(`data-uid="(\d+)"`)

func TestListReadFlagsMoveDeleteSearch(t *testing.T) {
	e := start(t)
	for i := 1; i <= 55; i++ {
		e.deliver(t, "carol@remote.test", alice, fmt.Sprintf("From: Carol <carol@remote.test>\nTo: alice@example.test\nSubject: note %02d\nDate: Mon, 2 Jan 2023 10:%02d:00 +0000\n\nbody text %02d %s\n", i, i, i, map[bool]string{true: "pineapple", false: ""}[i == 7]))
	}
	b := e.browser(t)
	b.mustLogin(alice, alicePW)
	p := b.get("/mail/")
	if n := len(rowRE.FindAllString(p.body, -1)); n != 50 {
		t.Fatalf("first page shows %d messages, want 50", n)
	}
	if !strings.Contains(p.body, "note 55") || strings.Contains(p.body, "note 05<") || !strings.Contains(p.body, "Carol") {
		t.Fatalf("first page is not the newest 50 with sender and subject: %s", p.body)
	}
	if !strings.Contains(p.body, `<span class="count">55</span>`) {
		t.Errorf("INBOX unread count 55 not shown")
	}
	p2 := b.get("/mail/?box=INBOX&page=2")
	if n := len(rowRE.FindAllString(p2.body, -1)); n != 5 || !strings.Contains(p2.body, "note 01") {
		t.Fatalf("page 2 shows %d messages: %s", n, p2.body)
	}
	asc := b.get("/mail/?box=INBOX&sort=subject&order=asc")
	if i1, i2 := strings.Index(asc.body, "note 01"), strings.Index(asc.body, "note 02"); i1 < 0 || i2 < 0 || i1 > i2 {
		t.Fatalf("subject ascending order wrong")
	}
	if m := rowRE.FindStringSubmatch(b.get("/mail/?sort=size&order=asc").body); m == nil {
		t.Fatal("size sort shows nothing")
	}
	// Search reads the index and, for messages the indexer has not reached yet, the messages;
	// the same once every message is indexed.
	s := b.get("/mail/?box=INBOX&q=pineapple")
	if got := rowRE.FindAllStringSubmatch(s.body, -1); len(got) != 1 || got[0][1] != "7" {
		t.Fatalf("search pineapple = %v", got)
	}
	if err := e.GW.Index().IndexMailbox(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := rowRE.FindAllStringSubmatch(b.get("/mail/?box=INBOX&q=pineapple").body, -1); len(got) != 1 || got[0][1] != "7" {
		t.Fatalf("search pineapple, indexed = %v", got)
	}
	// Reading marks seen.
	r := b.get("/mail/read?box=INBOX&uid=7")
	if r.StatusCode != 200 || !strings.Contains(r.body, "pineapple") || !strings.Contains(r.body, "note 07") {
		t.Fatalf("read: %d %s", r.StatusCode, r.body)
	}
	flags := func(uid uint32) mailstore.Flags {
		ctx := context.Background()
		u, _ := e.GW.Store().UserByAddress(ctx, mustAddr(alice))
		mb, _ := e.GW.Store().MailboxByName(ctx, u.ID, "INBOX")
		ms, _ := e.GW.Store().MessagesInRange(ctx, mb.ID, uid, uid)
		if len(ms) != 1 {
			t.Fatalf("uid %d gone", uid)
		}
		return ms[0].Flags
	}
	if flags(7)&mailstore.FlagSeen == 0 {
		t.Fatal("reading did not mark the message seen")
	}
	act := func(op string, uids ...string) {
		t.Helper()
		form := url.Values{"box": {"INBOX"}, "op": {op}, "uid": uids, "to": {"Archive"}}
		if r := b.postCSRF("/mail/", "/mail/action", form); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", op, r.StatusCode, r.body)
		}
	}
	act("unseen", "7")
	if flags(7)&mailstore.FlagSeen != 0 {
		t.Fatal("mark unread did not")
	}
	act("flag", "8", "9")
	if flags(8)&mailstore.FlagFlagged == 0 || flags(9)&mailstore.FlagFlagged == 0 {
		t.Fatal("flag did not")
	}
	act("unflag", "9")
	if flags(9)&mailstore.FlagFlagged != 0 {
		t.Fatal("unflag did not")
	}
	act("seen", "10")
	if flags(10)&mailstore.FlagSeen == 0 {
		t.Fatal("mark read did not")
	}
	act("move", "1", "2")
	if got := e.Mailbox(alice, "Archive"); len(got) != 2 {
		t.Fatalf("Archive = %d messages", len(got))
	}
	act("delete", "3")
	if got := e.Mailbox(alice, "Trash"); len(got) != 1 {
		t.Fatalf("Trash = %d messages", len(got))
	}
	if got := len(e.Mailbox(alice, "INBOX")); got != 52 {
		t.Fatalf("INBOX = %d, want 52", got)
	}
	// Delete in Trash expunges.
	trash := e.Mailbox(alice, "Trash")
	form := url.Values{"box": {"Trash"}, "op": {"delete"}, "uid": {fmt.Sprint(trash[0].UID)}}
	if r := b.postCSRF("/mail/?box=Trash", "/mail/action", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("expunge: %d", r.StatusCode)
	}
	if got := e.Mailbox(alice, "Trash"); len(got) != 0 {
		t.Fatalf("Trash after delete forever = %v", got)
	}
	// Another user's folder or message is not reachable.
	bb := e.browser(t)
	bb.mustLogin(bob, bobPW)
	if r := bb.get("/mail/read?box=INBOX&uid=7"); r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "pineapple") {
		t.Fatalf("bob reads alice's message: %d", r.StatusCode)
	}
}

func TestStatusShowsNewMail(t *testing.T) {
	e := start(t)
	b := e.browser(t)
	b.mustLogin(alice, alicePW)
	unseen := func() uint32 {
		r := b.get("/mail/api/status")
		var st struct {
			Folders []struct {
				Name   string
				Unseen uint32
			}
		}
		if err := json.Unmarshal([]byte(r.body), &st); err != nil {
			t.Fatalf("status %d %q: %v", r.StatusCode, r.body, err)
		}
		for _, f := range st.Folders {
			if f.Name == "INBOX" {
				return f.Unseen
			}
		}
		t.Fatal("no INBOX in status")
		return 0
	}
	if n := unseen(); n != 0 {
		t.Fatalf("unseen = %d", n)
	}
	e.deliver(t, "carol@remote.test", alice, "From: carol@remote.test\nTo: alice@example.test\nSubject: new\n\nx\n")
	if n := unseen(); n != 1 {
		t.Fatalf("after delivery unseen = %d", n)
	}
	if r := e.browser(t).get("/mail/api/status"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status without session: %d", r.StatusCode)
	}
}

func mustAddr(s string) address.Address {
	a, err := address.Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}
