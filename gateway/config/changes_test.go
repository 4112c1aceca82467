package config

import (
	"reflect"
	"testing"
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
