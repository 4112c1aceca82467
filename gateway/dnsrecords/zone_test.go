package dnsrecords

import (
	"strings"
	"testing"
)

func TestZone(t *testing.T) {
	long := strings.Repeat("a", 255) + `"\` + "\x01"
	for _, c := range []struct {
		r    Record
		want string
	}{
		{Record{Name: "example.test", Type: TypeMX, TTL: 60, Value: "10 mx.example.test."}, "example.test. 60 IN MX 10 mx.example.test."},
		{Record{Name: "example.test.", Type: TypeTXT, TTL: 60, Value: `v=spf1 "q" \ -all`}, `example.test. 60 IN TXT "v=spf1 \"q\" \\ -all"`},
		{Record{Name: "x.example.test", Type: TypeTXT, TTL: 60, Value: strings.Repeat("b", 255)}, `x.example.test. 60 IN TXT "` + strings.Repeat("b", 255) + `"`},
		// Split at 255 bytes of the text, then quoted: escapes do not count.
		{Record{Name: "x.example.test", Type: TypeTXT, TTL: 60, Value: long}, "x.example.test. 60 IN TXT (\n\t\"" + strings.Repeat("a", 255) + "\"\n\t\"\\\"\\\\\\001\" )"},
	} {
		if got := c.r.Zone(); got != c.want {
			t.Errorf("Zone(%+v)\n got %s\nwant %s", c.r, got, c.want)
		}
	}
}

func TestMTASTS(t *testing.T) {
	p := MTASTSPolicy("mx.example.test.", "enforce")
	if p != "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 604800\r\n" {
		t.Fatalf("policy %q", p)
	}
	if MTASTSID(p) == MTASTSID(MTASTSPolicy("mx.example.test", "testing")) || len(MTASTSID(p)) > 32 {
		t.Fatal("the id does not follow the policy, or is longer than RFC 8461 allows")
	}
	recs := Records(Options{Domain: "relay.test", Hostname: "mx.example.test"})
	for _, r := range recs {
		if r.Type == TypeSRV || r.Type == TypeCNAME && r.Name != "mta-sts.relay.test" {
			t.Errorf("a relay domain gets %s %s", r.Name, r.Type)
		}
	}
}
