package config

import (
	"reflect"
	"testing"
	"time"
)

func TestChanges(t *testing.T) {
	a, b := Default(), Default()
	if got := Changes(a, b); len(got) != 0 {
		t.Fatalf("defaults differ: %v", got)
	}
	b.Listen.SMTP = "0.0.0.0:25"
	b.MTASTS.Mode = MTASTSEnforce
	b.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	b.Relay.Domains = map[string]string{"corp.example": "10.0.0.5:25"}
	want := []string{"http.trusted_proxies", "listen.smtp", "mtasts.mode", "relay.domains"}
	if got := Changes(a, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("Changes = %v, want %v", got, want)
	}
}

func TestValidateWeb(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		key  string
	}{
		{"acme without a challenge listener", func(c *Config) {
			c.TLS.ACMEDirectory = "https://acme.example/dir"
			c.Listen.HTTP = ""
		}, "tls.acme_directory"},
		{"acme over plain http", func(c *Config) { c.TLS.ACMEDirectory = "http://acme.example/dir" }, "tls.acme_directory"},
		{"acme and files", func(c *Config) {
			c.TLS.ACMEDirectory = "https://acme.example/dir"
			c.TLS.Cert, c.TLS.Key = "/nonexistent/c", "/nonexistent/k"
		}, "tls.acme_directory"},
		{"acme_email alone", func(c *Config) { c.TLS.ACMEEmail = "a@b.example" }, "tls.acme_email"},
		{"bad proxy", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.1"} }, "http.trusted_proxies"},
		{"bad mode", func(c *Config) { c.MTASTS.Mode = "strict" }, "mtasts.mode"},
		{"max_age too long", func(c *Config) { c.MTASTS.MaxAge.Duration = 400 * 24 * time.Hour }, "mtasts.max_age"},
		{"bad mx", func(c *Config) { c.MTASTS.MX = []string{"*.bad_name"} }, "mtasts.mx"},
		{"https port conflict", func(c *Config) { c.Listen.HTTPS = c.Listen.HTTP }, "listen.https"},
	} {
		c := Default()
		tc.mod(c)
		found := false
		for _, p := range c.Validate() {
			found = found || p.Key == tc.key
		}
		if !found {
			t.Errorf("%s: no problem for %s in %v", tc.name, tc.key, c.Validate())
		}
	}
	c := Default()
	c.TLS.ACMEDirectory = "https://acme.example/dir"
	c.Listen.HTTPS = "0.0.0.0:443"
	c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "::1/128"}
	c.MTASTS.MX = []string{"*.example.org", "mx.example.org"}
	if ps := c.Validate(); len(ps) != 0 {
		t.Errorf("valid config refused: %v", ps)
	}
}
