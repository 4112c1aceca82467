package gateway_test

import (
	"bufio"
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
