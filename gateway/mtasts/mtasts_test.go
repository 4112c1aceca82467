package mtasts

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		mode string
		mx   int
		age  time.Duration
	}{
		{"version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmx: *.example.net\r\nmax_age: 86400\r\n", true, "enforce", 2, 24 * time.Hour},
		{"version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 604800\nextension: x\n", true, "testing", 1, 7 * 24 * time.Hour},
		{"version: STSv1\nmode: none\nmax_age: 1\n", true, "none", 0, time.Second},
		{"version: STSv1\nmode: enforce\nmax_age: 1\n", false, "", 0, 0},        // no mx
		{"version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n", false, "", 0, 0}, // version
		{"version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", false, "", 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a\nmax_age: -5\n", false, "", 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999999\n", false, "", 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a\nmax_age: 9999999999\n", true, "enforce", 1, maxMaxAge}, // capped
	} {
		p, err := Parse([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && (p.Mode != tc.mode || len(p.MX) != tc.mx || p.MaxAge != tc.age)) {
			t.Errorf("%q: %+v %v", tc.in, p, err)
		}
	}
}

func TestMatchMX(t *testing.T) {
	p := Policy{MX: []string{"mx1.example.org", "*.mail.example.net"}}
	for host, want := range map[string]bool{
		"mx1.example.org": true, "MX1.Example.Org.": true, "mx2.example.org": false,
		"a.mail.example.net": true, "a.b.mail.example.net": false, "mail.example.net": false,
	} {
		if got := p.MatchMX(host); got != want {
			t.Errorf("%s: %v", host, got)
		}
	}
}

func TestParseTXT(t *testing.T) {
	for _, tc := range []struct {
		recs []string
		id   string
	}{
		{[]string{"v=STSv1; id=20240101T000000"}, "20240101T000000"},
		{[]string{"v=spf1 -all", "v=STSv1;id=abc"}, "abc"},
		{[]string{"v=STSv1; id=a", "v=STSv1; id=b"}, ""}, // two records: none
		{[]string{"v=STSv1; id=bad-id"}, ""},
		{[]string{"v=STSv10; id=a"}, ""},
	} {
		if id, _ := ParseTXT(tc.recs); id != tc.id {
			t.Errorf("%q: %q, want %q", tc.recs, id, tc.id)
		}
	}
}

// A real DNS server and an HTTPS policy host: the policy is fetched, cached while the id
// stays, fetched again for a new id, and kept in force when the TXT record disappears.
func TestResolver(t *testing.T) {
	var policy atomic.Value
	policy.Store("version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 3600\r\n")
	var fetches atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "mta-sts.example.org" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(policy.Load().(string)))
	}))
	defer srv.Close()
	dns := dnstest.Start(t, dnstest.Zone{"_mta-sts.example.org. TXT": {"v=STSv1; id=one"}})
	client := srv.Client()
	tr := client.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	tr.TLSClientConfig.ServerName = "example.com" // the name httptest's certificate is for
	now := time.Now()
	r := New(Options{LookupTXT: dns.Resolver().LookupTXT, HTTP: &http.Client{Transport: tr}, Now: func() time.Time { return now }})
	ctx := context.Background()

	p := r.Lookup(ctx, "example.org")
	if p == nil || p.Mode != ModeEnforce || !p.MatchMX("mx.example.org") || p.ID != "one" {
		t.Fatalf("policy %+v", p)
	}
	r.Lookup(ctx, "example.org")
	if n := fetches.Load(); n != 1 {
		t.Fatalf("fetched %d times for one id", n)
	}
	policy.Store("version: STSv1\r\nmode: testing\r\nmx: mx.example.org\r\nmax_age: 3600\r\n")
	dns.Set("_mta-sts.example.org. TXT", "v=STSv1; id=two")
	if p := r.Lookup(ctx, "example.org"); p == nil || p.Mode != ModeTesting || fetches.Load() != 2 {
		t.Fatalf("after a new id: %+v, %d fetches", p, fetches.Load())
	}
	dns.Set("_mta-sts.example.org. TXT", "v=spf1 -all") // the record removed (or blocked)
	if p := r.Lookup(ctx, "example.org"); p == nil || p.Mode != ModeTesting {
		t.Fatalf("a fresh cached policy is dropped when the TXT record goes: %+v", p)
	}
	now = now.Add(2 * time.Hour)
	if p := r.Lookup(ctx, "example.org"); p != nil {
		t.Fatalf("an expired policy without a record stays: %+v", p)
	}
	if p := r.Lookup(ctx, "other.example"); p != nil {
		t.Fatalf("a domain without a record has %+v", p)
	}
	// A policy file that does not parse is no policy.
	dns.Set("_mta-sts.example.org. TXT", "v=STSv1; id=three")
	policy.Store("<html>")
	if p := r.Lookup(ctx, "example.org"); p != nil {
		t.Fatalf("an invalid policy file: %+v", p)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 86400\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err == nil && (p.MaxAge < 0 || p.MaxAge > maxMaxAge || len(p.MX) > 100) {
			t.Fatalf("out of bounds: %+v", p)
		}
	})
}

func TestTextRoundTrip(t *testing.T) {
	p := Policy{Mode: ModeEnforce, MX: []string{"mx.example.org", "*.example.net"}, MaxAge: 7 * 24 * time.Hour}
	got, err := Parse([]byte(p.Text()))
	if err != nil || got.Mode != p.Mode || len(got.MX) != 2 || got.MaxAge != p.MaxAge {
		t.Fatalf("%+v %v", got, err)
	}
	id := p.TextID()
	if _, ok := ParseTXT([]string{"v=STSv1; id=" + id}); !ok {
		t.Fatalf("id %q is not a valid TXT id", id)
	}
	p.Mode = ModeTesting
	if p.TextID() == id {
		t.Fatal("id unchanged for a changed policy")
	}
}
