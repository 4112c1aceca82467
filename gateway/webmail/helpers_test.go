package webmail_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

const (
	alice   = "alice@example.test"
	bob     = "bob@example.test"
	alicePW = "alice-password-1"
	bobPW   = "bob-password-1"
)

// env is a running gateway with alice and bob.
type env struct {
	*gatewaytest.Env
	base string
}

func start(t testing.TB, mods ...func(*config.Config)) *env {
	t.Helper()
	// Plain HTTP on loopback takes passwords only with plaintext_on_loopback.
	e := gatewaytest.Start(t, append([]func(*config.Config){func(c *config.Config) { c.Auth.PlaintextOnLoopback = true }}, mods...)...)
	e.AddUser(alice, alicePW)
	e.AddUser(bob, bobPW)
	// The local domain's SPF authorizes the test client, which sends alice's and bob's mail
	// to the MX as their own mail system would.
	e.DNS.Set("example.test. TXT", "v=spf1 ip4:127.0.0.1 -all")
	return &env{Env: e, base: "http://" + e.GW.Addr("http")}
}

// deliver sends msg to rcpt through the MX listener, as the Internet would.
func (e *env) deliver(t testing.TB, from, rcpt, msg string) {
	t.Helper()
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	if err := e.SendMX(from, []string{rcpt}, msg); err != nil {
		t.Fatalf("deliver: %v", err)
	}
}

// deliverEncrypted sends a PGP/MIME message from bob, signed with bob's gateway key and
// encrypted to alice's, through the MX listener: the gateway decrypts and verifies it.
func (e *env) deliverEncrypted(t testing.TB, subject, body string) {
	t.Helper()
	ctx := context.Background()
	admin := e.GW.Keyring().Admin("test")
	for _, a := range []string{alice, bob} {
		if es, _ := e.GW.Keyring().Entries(ctx, a); len(es) == 0 {
			if _, err := admin.GeneratePGP(ctx, a, keys.PGPOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rcpts, err := e.GW.Keyring().EncryptionKeysPGP(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := e.GW.Keyring().SigningKeyPGP(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	plain := "From: Bob <" + bob + ">\r\nTo: " + alice + "\r\nSubject: " + subject + "\r\nMessage-ID: <enc-" + subject + "@example.test>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
	var out bytes.Buffer
	if err := pgpmime.Encrypt(&out, strings.NewReader(plain), pgpmime.EncryptOptions{Recipients: rcpts, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	e.deliver(t, bob, alice, out.String())
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{res, string(data)}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s (%d): %s", path, r.StatusCode, r.body)
	}
	return m[1]
}

func (b *browser) login(user, pw string) response {
	b.t.Helper()
	tok := b.csrf("/mail/login")
	return b.post("/mail/login", url.Values{"csrf": {tok}, "user": {user}, "password": {pw}})
}

func (b *browser) mustLogin(user, pw string) {
	b.t.Helper()
	r := b.login(user, pw)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/mail/" {
		b.t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
}

// postCSRF posts form with the session's token taken from the page at from.
func (b *browser) postCSRF(from, path string, form url.Values) response {
	b.t.Helper()
	form.Set("csrf", b.csrf(from))
	return b.post(path, form)
}
