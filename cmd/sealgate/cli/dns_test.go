package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
)

// TestDNSRecordsCheck: the zone-file output of `dns records`, parsed as a zone file, served
// by a real DNS server, passes `dns check`; one changed record is reported, and so is a
// second SPF record beside the right one.
func TestDNSRecordsCheck(t *testing.T) {
	dir := dataDir(t, "")
	d := []string{"--data", dir}
	configure := func(resolver string) {
		writeConfig(t, dir, `hostname = "mx.example.test"
domains = ["example.test"]
[listen]
submission = "0.0.0.0:587"
submissions = "0.0.0.0:465"
imap = ""
imaps = "0.0.0.0:993"
pop3 = ""
pop3s = "0.0.0.0:995"
[dns]
resolver = "`+resolver+`"
`)
	}
	configure("")
	mustRun(t, "", append(d, "dkim", "generate", "example.test", "--selector", "s1")...)
	wantError(t, run(t, "", nil, append(d, "dns", "records", "elsewhere.example")...), "not a local domain")

	zoneText := mustRun(t, "", append(d, "dns", "records", "example.test")...).stdout
	zone := dnstest.Zone{}
	zp := dns.NewZoneParser(strings.NewReader(zoneText), "", "")
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		key := strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype]
		val := strings.TrimPrefix(rr.String(), h.String())
		if txt, ok := rr.(*dns.TXT); ok {
			val = strings.Join(txt.Txt, "")
			for _, s := range txt.Txt {
				if len(s) > 255 {
					t.Fatalf("TXT %s has a %d-byte string", h.Name, len(s))
				}
			}
		}
		zone[key] = append(zone[key], val)
		n++
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("dns records is not a zone file: %v\n%s", err, zoneText)
	}
	for _, want := range []string{
		"example.test. MX", "example.test. TXT", "mx.example.test. TXT", "s1._domainkey.example.test. TXT",
		"_dmarc.example.test. TXT", "_mta-sts.example.test. TXT", "mta-sts.example.test. CNAME", "_smtp._tls.example.test. TXT",
		"_submission._tcp.example.test. SRV", "_submissions._tcp.example.test. SRV", "_imap._tcp.example.test. SRV",
		"_imaps._tcp.example.test. SRV", "_pop3._tcp.example.test. SRV", "_pop3s._tcp.example.test. SRV",
		"autoconfig.example.test. CNAME", "autodiscover.example.test. CNAME", "_autodiscover._tcp.example.test. SRV",
		"openpgpkey.example.test. CNAME",
	} {
		if len(zone[want]) != 1 {
			t.Errorf("dns records: %s: %q", want, zone[want])
		}
	}
	if got := zone["_imap._tcp.example.test. SRV"]; len(got) == 1 && got[0] != "0 0 0 ." {
		t.Errorf("IMAP is off: %q, want not offered", got)
	}
	if got := zone["_imaps._tcp.example.test. SRV"]; len(got) == 1 && got[0] != "0 1 993 mx.example.test." {
		t.Errorf("IMAPS SRV %q", got)
	}
	if !strings.Contains(zoneText, ";   mode: testing") || !regexp.MustCompile(`"v=STSv1; id=[0-9a-f]{20}"`).MatchString(zoneText) {
		t.Errorf("MTA-STS record and policy text missing:\n%s", zoneText)
	}

	// Without DOMAIN: every local domain, here the one.
	if all := mustRun(t, "", append(d, "dns", "records")...).stdout; all != zoneText {
		t.Fatalf("dns records without DOMAIN differs from dns records example.test")
	}
	// The JSON form has the same records.
	var recs []struct{ Name, Type, Value string }
	if err := json.Unmarshal([]byte(mustRun(t, "", append(d, "dns", "records", "example.test", "--json")...).stdout), &recs); err != nil || len(recs) != n {
		t.Fatalf("dns records --json: %d records (%v), want %d", len(recs), err, n)
	}

	srv := dnstest.Start(t, zone)
	configure(srv.Addr)
	if r := run(t, "", nil, append(d, "dns", "check", "example.test")...); r.code != 0 || strings.Contains(r.stdout, "MISMATCH") {
		t.Fatalf("dns check of the published records: %+v", r)
	}

	srv.Set("_imaps._tcp.example.test. SRV", "0 1 9993 mx.example.test.")
	r := run(t, "", nil, append(d, "dns", "check", "example.test")...)
	wantError(t, r, "1 of")
	if !strings.Contains(r.stdout, "MISMATCH _imaps._tcp.example.test SRV") || !strings.Contains(r.stdout, "have: 0 1 9993 mx.example.test.") {
		t.Fatalf("dns check does not name the changed record:\n%s", r.stdout)
	}
	srv.Set("_imaps._tcp.example.test. SRV", "0 1 993 mx.example.test.")
	srv.Set("example.test. TXT", "v=spf1 mx -all", "v=spf1 a -all")
	r = run(t, "", nil, append(d, "dns", "check", "example.test")...)
	wantError(t, r, "1 of")
	if !strings.Contains(r.stdout, `2 records begin with "v=spf1"`) {
		t.Fatalf("dns check misses a second SPF record:\n%s", r.stdout)
	}
}
