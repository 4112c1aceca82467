package keys

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWKDClientMethodsAndCache(t *testing.T) {
	var hits atomic.Int32
	key := []byte("binary key bytes")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// Only the direct method answers, for dave's hash and local part.
		if r.URL.Path == "/direct/.well-known/openpgpkey/hu/"+WKDHash("dave") && r.URL.Query().Get("l") == "Dave" {
			w.Write(key)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	now := time.Unix(1000, 0)
	c := &WKDClient{HTTP: srv.Client(), Now: func() time.Time { return now },
		URLs: func(domain, hash, local string) []string {
			return []string{
				srv.URL + "/advanced/.well-known/openpgpkey/" + domain + "/hu/" + hash + "?l=" + local,
				srv.URL + "/direct/.well-known/openpgpkey/hu/" + hash + "?l=" + local,
			}
		}}
	ctx := context.Background()
	got, err := c.Lookup(ctx, "Dave@Partner.TEST")
	if err != nil || string(got) != string(key) {
		t.Fatalf("lookup: %q %v", got, err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests, want advanced then direct", hits.Load())
	}
	c.Lookup(ctx, "dave@partner.test")
	if hits.Load() != 2 {
		t.Fatal("a cached answer was asked again")
	}
	if _, err := c.Lookup(ctx, "nobody@partner.test"); !errors.Is(err, ErrNoWKDKey) {
		t.Fatalf("missing key: %v", err)
	}
	n := hits.Load()
	c.Lookup(ctx, "nobody@partner.test")
	if hits.Load() != n {
		t.Fatal("a cached miss was asked again")
	}
	now = now.Add(11 * time.Minute)
	c.Lookup(ctx, "nobody@partner.test")
	if hits.Load() == n {
		t.Fatal("a miss was cached past MissTTL")
	}
}

func TestWKDClientTimeoutAndPlainHTTPRefused(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	c := &WKDClient{HTTP: slow.Client(), Timeout: 100 * time.Millisecond,
		URLs: func(domain, hash, local string) []string { return []string{slow.URL + "/x"} }}
	if _, err := c.Lookup(context.Background(), "a@slow.test"); !errors.Is(err, ErrNoWKDKey) {
		t.Fatalf("hanging directory: %v", err)
	}
	// The default URLs are HTTPS only.
	d := &WKDClient{}
	d.defaults()
	for _, u := range d.URLs("example.org", "h", "l") {
		if !strings.HasPrefix(u, "https://") {
			t.Fatalf("non-HTTPS WKD URL %s", u)
		}
	}
}
