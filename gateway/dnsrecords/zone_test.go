package dnsrecords

import (
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/mtasts"
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
	p := &mtasts.Policy{Mode: mtasts.ModeEnforce, MX: []string{"mx.example.test"}, MaxAge: 7 * 24 * time.Hour}
	var sts Record
	for _, r := range Records(Options{Domain: "example.test", Hostname: "mx.example.test", MTASTS: p}) {
		if r.Name == "_mta-sts.example.test" {
			sts = r
		}
	}
	// The record names the policy the https listener serves, by its id.
	if sts.Policy != p.Text() || sts.Value != "v=STSv1; id="+p.TextID() || len(p.TextID()) > 32 {
		t.Fatalf("_mta-sts record %+v for policy %q", sts, p.Text())
	}
	for _, r := range Records(Options{Domain: "example.test", Hostname: "mx.example.test", MTASTS: &mtasts.Policy{Mode: mtasts.ModeNone}}) {
		if strings.Contains(r.Name, "mta-sts") {
			t.Errorf("mode none publishes %s", r.Name)
		}
	}
	recs := Records(Options{Domain: "relay.test", Hostname: "mx.example.test", MTASTS: p})
	for _, r := range recs {
		if r.Type == TypeSRV || r.Type == TypeCNAME && r.Name != "mta-sts.relay.test" {
			t.Errorf("a relay domain gets %s %s", r.Name, r.Type)
		}
	}
}
