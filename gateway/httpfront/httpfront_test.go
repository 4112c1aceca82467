package httpfront

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mtasts"
)

func TestProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote string
		headers      map[string]string
		wantAddr     string
		wantProto    string
	}{
		{"untrusted peer: headers dropped", "192.0.2.1:4000",
			map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"}, "192.0.2.1:4000", ""},
		{"trusted proxy, X-Forwarded-For", "10.1.2.3:4000",
			map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"}, "198.51.100.9:0", "https"},
		{"client-supplied left part ignored: rightmost untrusted wins", "10.1.2.3:4000",
			map[string]string{"X-Forwarded-For": "1.1.1.1, 198.51.100.9, 10.9.9.9"}, "198.51.100.9:0", ""},
		{"Forwarded with proto", "[::1]:4000",
			map[string]string{"Forwarded": `for="[2001:db8::7]:1234";proto=https, for=10.0.0.2`}, "[2001:db8::7]:0", "https"},
		{"garbage ends the chain", "10.1.2.3:4000",
			map[string]string{"X-Forwarded-For": "198.51.100.9, nonsense"}, "10.1.2.3:0", ""},
		{"trusted proxy without headers", "10.1.2.3:4000", nil, "10.1.2.3:0", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotAddr, gotProto string
			h := NewProxies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAddr, gotProto = r.RemoteAddr, r.Header.Get("X-Forwarded-Proto")
			}), trusted)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if gotAddr != tc.wantAddr || gotProto != tc.wantProto {
				t.Errorf("client %q proto %q, want %q %q", gotAddr, gotProto, tc.wantAddr, tc.wantProto)
			}
		})
	}
}

func TestRedirect(t *testing.T) {
	h := Redirect(http.NotFoundHandler(), RedirectOptions{HTTPSPort: func() int { return 8443 }, Keep: []string{"/healthz"}})
	for _, tc := range []struct{ host, path, want string }{
		{"mx.example.test", "/mail/?a=b", "https://mx.example.test:8443/mail/?a=b"},
		{"mx.example.test:8080", "/", "https://mx.example.test:8443/"},
		{"[::1]:8080", "/x", "https://[::1]:8443/x"},
	} {
		r := httptest.NewRequest("POST", tc.path, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
			t.Errorf("%s%s: %d %q, want 308 %q", tc.host, tc.path, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("/healthz: %d, want it passed through", w.Code)
	}
}

func testSite() *Site {
	return NewSite(http.NotFoundHandler(), Settings{
		Hostname: "mx.example.test", Domains: []string{"example.test", "other.test"},
		Servers: []Server{{"imap", 143, false}, {"imap", 993, true}, {"smtp", 587, false}, {"smtp", 465, true}, {"pop3", 995, true}},
		MTASTS:  &mtasts.Policy{Mode: "enforce", MaxAge: 7 * 24 * time.Hour, MX: []string{"mx.example.test", "*.backup.example.test"}},
	})
}

func get(h http.Handler, method, host, path string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = host
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMTASTSPolicy(t *testing.T) {
	site := testSite()
	w := get(site, "GET", "MTA-STS.example.test", MTASTSPath, "")
	want := "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmx: *.backup.example.test\r\nmax_age: 604800\r\n"
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("%d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if w := get(site, "GET", "mta-sts.example.test", "/mail/", ""); w.Code != 404 {
		t.Errorf("other path on the policy host: %d", w.Code)
	}
	if w := get(site, "GET", "mta-sts.foreign.test", MTASTSPath, ""); w.Code != 404 {
		t.Errorf("policy for a foreign domain: %d", w.Code)
	}
}

func TestAutoconfig(t *testing.T) {
	site := testSite()
	for _, tc := range []struct{ host, path, domain string }{
		{"autoconfig.other.test", AutoconfigPath, "other.test"},
		{"example.test", AutoconfigWellKnownPath + "?emailaddress=a%40other.test", "other.test"},
		{"mx.example.test", AutoconfigWellKnownPath, "example.test"},
	} {
		w := get(site, "GET", tc.host, tc.path, "")
		if w.Code != 200 {
			t.Fatalf("%s%s: %d", tc.host, tc.path, w.Code)
		}
		var cfg clientConfig
		if err := xml.Unmarshal(w.Body.Bytes(), &cfg); err != nil {
			t.Fatal(err)
		}
		p := cfg.Provider
		if cfg.Version != "1.1" || p.ID != tc.domain || len(p.Incoming) != 3 || len(p.Outgoing) != 2 {
			t.Fatalf("%s: %s", tc.host, w.Body)
		}
		if in := p.Incoming[0]; in.Type != "imap" || in.Port != 993 || in.SocketType != "SSL" || in.Hostname != "mx.example.test" || in.Username != "%EMAILADDRESS%" {
			t.Errorf("first incoming server %+v", in)
		}
		if out := p.Outgoing[1]; out.Port != 587 || out.SocketType != "STARTTLS" {
			t.Errorf("second outgoing server %+v", out)
		}
	}
	if w := get(site, "GET", "mx.example.test", AutoconfigPath, ""); w.Code != 404 {
		t.Errorf("/mail/config-v1.1.xml off the autoconfig host: %d", w.Code)
	}
}

func TestAutodiscover(t *testing.T) {
	site := testSite()
	req := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
<Request><EMailAddress>alice@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
	w := get(site, "POST", "autodiscover.example.test", AutodiscoverPath, req)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var resp autodiscoverResponse
	if err := xml.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	ps := resp.Response.Account.Protocols
	if len(ps) != 3 || ps[0].Type != "IMAP" || ps[0].Port != 993 || ps[0].LoginName != "alice@example.test" || ps[2].Type != "SMTP" || ps[2].Port != 465 {
		t.Fatalf("%s", w.Body)
	}
	if !bytes.Contains(w.Body.Bytes(), []byte(`xmlns="`+outlookResponseNS+`"`)) {
		t.Errorf("response schema namespace missing: %s", w.Body)
	}
	if w := get(site, "POST", "x", AutodiscoverPath, strings.Replace(req, "example.test", "foreign.test", 1)); w.Code != 404 {
		t.Errorf("foreign address: %d", w.Code)
	}
	if w := get(site, "POST", "x", AutodiscoverPath, "<Autodiscover><Request>"); w.Code != 400 {
		t.Errorf("truncated request: %d", w.Code)
	}
}

func FuzzParseAutodiscover(f *testing.F) {
	f.Add([]byte(`<Autodiscover><Request><EMailAddress>a@b</EMailAddress></Request></Autodiscover>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseAutodiscover(bytes.NewReader(data))
	})
}

func FuzzForwarded(f *testing.F) {
	f.Add(`for=192.0.2.1;proto=https, for="[2001:db8::1]:80"`, "1.2.3.4, ::1")
	f.Fuzz(func(t *testing.T, fwd, xff string) {
		chain, _ := ParseForwarded([]string{fwd})
		if len(chain) > maxForwardedHops {
			t.Fatal("unbounded chain")
		}
		if len(ParseXForwardedFor([]string{xff})) > maxForwardedHops {
			t.Fatal("unbounded chain")
		}
	})
}

// The profile is a well-formed plist whose account points at the IMAPS and submissions ports.
func TestMobileConfig(t *testing.T) {
	site := testSite()
	data := site.MobileConfig("alice@example.test")
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v\n%s", err, data)
			}
			break
		}
	}
	for _, want := range []string{
		"<key>IncomingMailServerPortNumber</key><integer>993</integer>",
		"<key>OutgoingMailServerPortNumber</key><integer>465</integer>",
		"<key>PayloadType</key><string>com.apple.mail.managed</string>",
		"<key>IncomingMailServerHostName</key><string>mx.example.test</string>",
		"<key>IncomingMailServerUsername</key><string>alice@example.test</string>",
	} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("profile lacks %s:\n%s", want, data)
		}
	}
	if !bytes.Equal(data, site.MobileConfig("alice@example.test")) {
		t.Error("a second download differs: it would not replace the first profile")
	}
	if bytes.Contains(site.MobileConfig("<x>@example.test"), []byte("<x>")) {
		t.Error("address not escaped")
	}
}
