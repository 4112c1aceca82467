package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

// slowPost opens a connection from local and sends a POST's headers but not its body.
func slowPost(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	c := wiretest.DialFrom(t, local, addr)
	io.WriteString(c, "POST /mail/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nuser=")
	return c
}

// The HTTP listener caps connections per client address like the mail listeners: slow
// uploads from one address cannot hold more than max_connections_per_ip, and other
// addresses are still served.
func TestHTTPConnectionsPerAddress(t *testing.T) {
	env := gatewaytest.Start(t, func(c *config.Config) { c.Limits.MaxConnectionsPerIP = 5 })
	addr := env.GW.Addr("http")
	var held []net.Conn
	for range 5 {
		held = append(held, slowPost(t, "127.0.0.2", addr))
	}
	over := slowPost(t, "127.0.0.2", addr)
	over.SetReadDeadline(time.Now().Add(30 * time.Second))
	if l, err := bufio.NewReader(over).ReadString('\n'); !strings.HasPrefix(l, "HTTP/1.1 429") {
		t.Fatalf("connection over the per-address limit: %q, %v", l, err)
	}
	c := http.Client{Transport: &http.Transport{DialContext: wiretest.DialerFrom("127.0.0.3").DialContext}, Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("another address: %v %v", resp, err)
	}
	resp.Body.Close()
	// A place freed is a place to use again.
	held[0].Close()
	for i := 0; ; i++ {
		c := slowPost(t, "127.0.0.2", addr)
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := bufio.NewReader(c).ReadString('\n')
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			break // held open, waiting for the body
		}
		if i == 100 {
			t.Fatal("the freed place was never given back")
		}
	}
}

// A request whose body does not arrive within http_read_timeout is cut off.
func TestHTTPSlowBodyIsCutOff(t *testing.T) {
	env := gatewaytest.Start(t, func(c *config.Config) { c.Limits.HTTPReadTimeout = config.Duration{Duration: time.Second} })
	c := slowPost(t, "127.0.0.1", env.GW.Addr("http"))
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the server kept the slow request open: %v", err)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// webLogin logs in to web mail from local, with headers, and returns the response status
// and page.
func webLogin(t *testing.T, local, base string, header http.Header, user, pw string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: wiretest.DialerFrom(local).DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) (int, string) {
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	req, _ := http.NewRequest("GET", base+"/mail/login", nil)
	_, page := do(req)
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no login form: %s", page)
	}
	form := url.Values{"csrf": {m[1]}, "user": {user}, "password": {pw}}
	req, _ = http.NewRequest("POST", base+"/mail/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(req)
}

// Web mail takes a password only over TLS, from a reverse proxy in [http] trusted_proxies whose
// client used https, or over plain HTTP from loopback when plaintext_on_loopback is on; the
// form says why it refuses.
func TestWebmailPasswordNotOverPlainHTTP(t *testing.T) {
	const pw = "alice-secret-pw"
	viaProxy := http.Header{"X-Forwarded-Proto": {"https"}}

	env := gatewaytest.Start(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.2/32"} })
	env.AddUser("alice@localhost", pw)
	base := "http://" + env.GW.Addr("http")
	code, page := webLogin(t, "127.0.0.1", base, nil, "alice@localhost", pw)
	if code != http.StatusForbidden || !strings.Contains(page, "not encrypted") {
		t.Fatalf("plain HTTP login with plaintext_on_loopback off: %d\n%s", code, page)
	}
	// The header counts only from a trusted proxy: from 127.0.0.1 anyone could set it.
	if code, page := webLogin(t, "127.0.0.1", base, viaProxy, "alice@localhost", pw); code != http.StatusForbidden {
		t.Fatalf("login with X-Forwarded-Proto from an untrusted client: %d\n%s", code, page)
	}
	if code, page := webLogin(t, "127.0.0.2", base, viaProxy, "alice@localhost", pw); code != http.StatusSeeOther {
		t.Fatalf("login through a trusted TLS proxy: %d\n%s", code, page)
	}

	env = gatewaytest.Start(t, func(c *config.Config) {
		c.Auth.PlaintextOnLoopback = true
		c.Listen.HTTP = "0.0.0.0:0"
	})
	env.AddUser("alice@localhost", pw)
	_, port, _ := net.SplitHostPort(env.GW.Addr("http"))
	if code, page := webLogin(t, "127.0.0.1", "http://127.0.0.1:"+port, nil, "alice@localhost", pw); code != http.StatusSeeOther {
		t.Fatalf("plain HTTP login from loopback with plaintext_on_loopback on: %d\n%s", code, page)
	}
	ext := externalIPv4(t)
	// From another address, neither plaintext_on_loopback nor a forwarding header it sets
	// itself lets a password through plain HTTP.
	for _, h := range []http.Header{nil, viaProxy} {
		code, page := webLogin(t, ext, "http://"+net.JoinHostPort(ext, port), h, "alice@localhost", pw)
		if code != http.StatusForbidden || !strings.Contains(page, "not encrypted") {
			t.Fatalf("plain HTTP login from %s (headers %v): %d\n%s", ext, h, code, page)
		}
	}
}

// externalIPv4 returns an address of this machine that is not loopback, or skips the test.
func externalIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback address on this machine")
	return ""
}

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
