package gateway_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

// noRedirectClient speaks HTTPS to the gateway's self-signed certificate and shows redirects.
func noRedirectClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func fetch(t *testing.T, c *http.Client, url, host string) (int, http.Header, string) {
	t.Helper()
	code, h, body := wiretest.Get(t, c, url, host)
	return code, h, string(body)
}

// The https listener serves web mail, the MTA-STS policy by Host, autoconfig and WKD; http
// redirects to it except /healthz; /metrics moves to the metrics listener.
func TestE2EHTTPSListener(t *testing.T) {
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Listen.HTTPS = "127.0.0.1:0"
		c.Listen.Metrics = "127.0.0.1:0"
		c.MTASTS.Mode = config.MTASTSEnforce
	})
	c := noRedirectClient()
	https := "https://" + env.GW.Addr("https")

	code, hdr, body := fetch(t, c, https+"/.well-known/mta-sts.txt", "mta-sts.example.test")
	if code != 200 || body != "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 604800\r\n" || hdr.Get("Content-Type") != "text/plain" {
		t.Fatalf("MTA-STS policy: %d %q", code, body)
	}
	code, _, body = fetch(t, c, https+"/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig.example.test")
	if code != 200 || !strings.Contains(body, "<hostname>mx.example.test</hostname>") ||
		!strings.Contains(body, "<port>"+port(t, env.GW.Addr("imaps"))+"</port>") {
		t.Fatalf("autoconfig: %d %s", code, body)
	}
	if code, _, _ = fetch(t, c, https+"/mail/", "mx.example.test"); code != 200 && code != http.StatusSeeOther {
		t.Fatalf("web mail over https: %d", code)
	}
	if code, _, _ = fetch(t, c, https+"/.well-known/openpgpkey/policy", "openpgpkey.example.test"); code != 200 {
		t.Fatalf("WKD policy under openpgpkey.DOMAIN: %d", code)
	}

	plain := "http://" + env.GW.Addr("http")
	code, hdr, _ = fetch(t, c, plain+"/mail/login?x=1", "mx.example.test")
	if want := "https://mx.example.test:" + port(t, env.GW.Addr("https")) + "/mail/login?x=1"; code != http.StatusPermanentRedirect || hdr.Get("Location") != want {
		t.Fatalf("http: %d %q, want a redirect to %q", code, hdr.Get("Location"), want)
	}
	if code, _, _ = fetch(t, c, plain+"/.well-known/acme-challenge/unknown-token", "mx.example.test"); code != 404 {
		t.Fatalf("ACME HTTP-01 path on http: %d, want it answered there, not redirected", code)
	}
	if code, _, _ = fetch(t, c, "http://"+env.GW.Addr("metrics")+"/metrics", ""); code != 200 {
		t.Fatalf("metrics listener: %d", code)
	}
	if code, _, _ = fetch(t, c, https+"/metrics", ""); code != 404 {
		t.Fatalf("/metrics on https with a metrics listener: %d", code)
	}
	if code, _, _ = fetch(t, c, plain+"/healthz", ""); code != 404 {
		t.Fatalf("/healthz on http with a metrics listener: %d", code)
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("no port in %q", addr)
	}
	return addr[i+1:]
}

// Reload changes the MTA-STS policy served from the next request on, and reports a changed
// listener as needing a restart.
func TestE2EReloadLiveSettings(t *testing.T) {
	env := gatewaytest.Start(t, func(c *config.Config) { c.Listen.HTTPS = "127.0.0.1:0" })
	c := noRedirectClient()
	url := "https://" + env.GW.Addr("https") + "/.well-known/mta-sts.txt"
	if _, _, body := fetch(t, c, url, "mta-sts.example.test"); !strings.Contains(body, "mode: testing\r\n") {
		t.Fatalf("before: %q", body)
	}
	next := gatewaytest.Config()
	next.Listen.HTTPS = "127.0.0.1:0"
	next.MTASTS.Mode = config.MTASTSEnforce
	next.MTASTS.MX = []string{"mx1.example.test", "mx2.example.test"}
	next.Listen.SMTP = "127.0.0.1:2"
	res, err := env.GW.Reload(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Applied, " ") != "mtasts.mode mtasts.mx" || strings.Join(res.NeedRestart, " ") != "listen.smtp" {
		t.Errorf("applied %v, need restart %v", res.Applied, res.NeedRestart)
	}
	if _, _, body := fetch(t, c, url, "mta-sts.example.test"); body != "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: mx2.example.test\r\nmax_age: 604800\r\n" {
		t.Fatalf("after: %q", body)
	}
}

// webLogin logs in to web mail over http with extra request headers and returns the status
// and the logged-in client.
func proxyLogin(t *testing.T, base, user, pass string, headers map[string]string) (int, *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirectClient()
	c.Jar = jar
	resp, err := c.Get(base + "/mail/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no login form: %s", page)
	}
	form := url.Values{"user": {user}, "password": {pass}, "csrf": {string(m[1])}}
	req, _ := http.NewRequest("POST", base+"/mail/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, c
}

// Behind a trusted proxy the client address web mail logs and throttles by is the forwarded
// one; from anyone else X-Forwarded-For is ignored.
func TestE2ETrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"trusted", []string{"127.0.0.0/8"}, "client=203.0.113.9"},
		{"untrusted", nil, "client=127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The proxy reaches the https listener: a forwarded client that is not on loopback
			// may log in over TLS only.
			env := gatewaytest.Start(t, func(c *config.Config) {
				c.HTTP.TrustedProxies = tc.trusted
				c.Listen.HTTPS = "127.0.0.1:0"
			})
			env.AddUser("alice@example.test", "pw-alice-1")
			base := "https://" + env.GW.Addr("https")
			if code, _ := proxyLogin(t, base, "alice@example.test", "pw-alice-1", map[string]string{"X-Forwarded-For": "203.0.113.9"}); code != http.StatusSeeOther {
				t.Fatalf("login: %d", code)
			}
			if !strings.Contains(env.Log.String(), "protocol=webmail "+tc.want+" user=alice@example.test") {
				t.Errorf("log lacks %q:\n%s", tc.want, env.Log.String())
			}
		})
	}
}

// A logged-in web mail user downloads an Apple configuration profile for their own address.
func TestE2EWebmailMobileConfig(t *testing.T) {
	env := gatewaytest.Start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	env.AddUser("alice@example.test", "pw-alice-1")
	base := "http://" + env.GW.Addr("http")
	if code, _, _ := fetch(t, noRedirectClient(), base+"/mail/apple.mobileconfig", "mx.example.test"); code != http.StatusSeeOther && code != http.StatusFound {
		t.Fatalf("without a session: %d", code)
	}
	_, c := proxyLogin(t, base, "alice@example.test", "pw-alice-1", nil)
	code, hdr, body := fetch(t, c, base+"/mail/apple.mobileconfig", "")
	if code != 200 || hdr.Get("Content-Type") != "application/x-apple-aspen-config" ||
		!strings.Contains(body, "<key>EmailAddress</key><string>alice@example.test</string>") ||
		!strings.Contains(body, "<key>IncomingMailServerPortNumber</key><integer>"+port(t, env.GW.Addr("imaps"))+"</integer>") {
		t.Fatalf("%d %q\n%s", code, hdr.Get("Content-Type"), body)
	}
	if _, _, page := fetch(t, c, base+"/mail/keys", ""); !strings.Contains(page, "/mail/apple.mobileconfig") {
		t.Error("the keys page does not offer the profile")
	}
}
