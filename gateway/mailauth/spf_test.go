package mailauth

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
)

// A zone that exercises every mechanism; one row per rule in the test below.
func spfZone() dnstest.Zone {
	return dnstest.Zone{
		"pass.test. TXT":                       {"v=spf1 ip4:192.0.2.0/24 -all"},
		"fail.test. TXT":                       {"v=spf1 -all"},
		"soft.test. TXT":                       {"v=spf1 ~all"},
		"neutral.test. TXT":                    {"v=spf1 ?all"},
		"nomatch.test. TXT":                    {"v=spf1 ip4:10.0.0.1"},
		"a.test. TXT":                          {"v=spf1 a -all"},
		"a.test. A":                            {"192.0.2.10"},
		"acidr.test. TXT":                      {"v=spf1 a:host.acidr.test/24 -all"},
		"host.acidr.test. A":                   {"198.51.100.1"},
		"mx.test. TXT":                         {"v=spf1 mx -all"},
		"mx.test. MX":                          {"10 mail.mx.test."},
		"mail.mx.test. A":                      {"203.0.113.5"},
		"inc.test. TXT":                        {"v=spf1 include:pass.test -all"},
		"incnone.test. TXT":                    {"v=spf1 include:nothing.test -all"},
		"redir.test. TXT":                      {"v=spf1 redirect=pass.test"},
		"exists.test. TXT":                     {"v=spf1 exists:%{i}.ok.exists.test -all"},
		"192.0.2.7.ok.exists.test. A":          {"127.0.0.2"},
		"v6.test. TXT":                         {"v=spf1 ip6:2001:db8::/32 -all"},
		"two.test. TXT":                        {"v=spf1 -all", "v=spf1 +all"},
		"bad.test. TXT":                        {"v=spf1 frobnicate -all"},
		"other.test. TXT":                      {"some-verification=1", "v=spf1 +all"},
		"loop.test. TXT":                       {"v=spf1 include:loop.test -all"},
		"macro.test. TXT":                      {"v=spf1 exists:%{l}.%{d2}.users.macro.test -all"},
		"alice.macro.test.users.macro.test. A": {"127.0.0.2"},
		"void.test. TXT":                       {"v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all"},
		"temp.test. TXT":                       {"v=spf1 a:broken.temp.test -all"},
		"SERVFAIL":                             {"broken.temp.test.", "tempdns.test."},
	}
}

func TestSPF(t *testing.T) {
	dns := dnstest.Start(t, spfZone())
	res := dns.Resolver()
	cases := []struct {
		ip, from string
		want     SPFResult
	}{
		{"192.0.2.7", "a@pass.test", SPFPass},
		{"198.51.100.9", "a@pass.test", SPFFail},
		{"192.0.2.7", "a@fail.test", SPFFail},
		{"192.0.2.7", "a@soft.test", SPFSoftFail},
		{"192.0.2.7", "a@neutral.test", SPFNeutral},
		{"192.0.2.7", "a@nomatch.test", SPFNeutral},
		{"192.0.2.7", "a@norecord.test", SPFNone},
		{"192.0.2.10", "a@a.test", SPFPass},
		{"192.0.2.11", "a@a.test", SPFFail},
		{"198.51.100.200", "a@acidr.test", SPFPass},
		{"203.0.113.5", "a@mx.test", SPFPass},
		{"203.0.113.6", "a@mx.test", SPFFail},
		{"192.0.2.7", "a@inc.test", SPFPass},
		{"198.51.100.1", "a@inc.test", SPFFail},
		{"192.0.2.7", "a@incnone.test", SPFPermError},
		{"192.0.2.7", "a@redir.test", SPFPass},
		{"192.0.2.7", "a@exists.test", SPFPass},
		{"192.0.2.8", "a@exists.test", SPFFail},
		{"2001:db8::1", "a@v6.test", SPFPass},
		{"2001:db9::1", "a@v6.test", SPFFail},
		{"192.0.2.7", "a@two.test", SPFPermError},
		{"192.0.2.7", "a@bad.test", SPFPermError},
		{"192.0.2.7", "a@other.test", SPFPass},
		{"192.0.2.7", "a@loop.test", SPFPermError},
		{"192.0.2.7", "alice@macro.test", SPFPass},
		{"192.0.2.7", "bob@macro.test", SPFFail},
		{"192.0.2.7", "a@void.test", SPFPermError},
		{"192.0.2.7", "a@temp.test", SPFTempError},
		{"192.0.2.7", "a@tempdns.test", SPFTempError},
		{"192.0.2.7", "", SPFPass}, // null sender: postmaster@helo
	}
	for _, c := range cases {
		got, why := CheckSPF(context.Background(), res, netip.MustParseAddr(c.ip), "pass.test", c.from)
		if got != c.want {
			t.Errorf("%s from %s: %s (%s), want %s", c.from, c.ip, got, why, c.want)
		}
	}
}

func TestSPFMacroExpansion(t *testing.T) {
	c := &spfCheck{sender: "strong-bad@email.example.com", ip: netip.MustParseAddr("192.0.2.3"), q: SPFQuery{Helo: "mx.example.org"}}
	// Examples from RFC 7208 §7.4.
	cases := map[string]string{
		"%{s}":                  "strong-bad@email.example.com",
		"%{o}":                  "email.example.com",
		"%{d}":                  "email.example.com",
		"%{d4}":                 "email.example.com",
		"%{d3}":                 "email.example.com",
		"%{d2}":                 "example.com",
		"%{d1}":                 "com",
		"%{dr}":                 "com.example.email",
		"%{d2r}":                "example.email",
		"%{l}":                  "strong-bad",
		"%{l-}":                 "strong.bad",
		"%{lr}":                 "strong-bad",
		"%{lr-}":                "bad.strong",
		"%{l1r-}":               "strong",
		"%{ir}.%{v}._spf.%{d2}": "3.2.0.192.in-addr._spf.example.com",
	}
	for in, want := range cases {
		got, err := c.expandDomain(in, "email.example.com")
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
	c.ip = netip.MustParseAddr("2001:db8::cb01")
	got, _ := c.expandDomain("%{ir}.%{v}._spf.%{d2}", "email.example.com")
	if want := "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"; got != want {
		t.Errorf("ipv6: %q", got)
	}
}

// FuzzParseSPF: any record gets an answer; a record that parses has only mechanisms the
// evaluator knows, and expanding its domain-specs cannot fail on syntax.
func FuzzParseSPF(f *testing.F) {
	for _, s := range []string{
		"v=spf1 ip4:192.0.2.0/24 a:%{d2}/24//64 mx ptr:x.test include:_spf.%{o} exists:%{ir}.%{v}._spf.%{d2} redirect=%{d}.x.test exp=e.%{d} -all",
		"v=spf1 a:%{l1r-+}.x.test ?all", "v=spf1 ip6:2001:db8::/32 ~all", "v=spf1 %{", "v=spf1 a:/24", "v=spf1 x=%{s}",
	} {
		f.Add(s)
	}
	c := &spfCheck{sender: "a-b@example.test", ip: netip.MustParseAddr("192.0.2.1"), q: SPFQuery{Helo: "h.test"}, ptr: map[string]string{"example.test": "unknown"}}
	f.Fuzz(func(t *testing.T, rec string) {
		r, err := parseSPF(rec)
		if err != nil {
			return
		}
		for _, m := range r.mechanisms {
			if !strings.Contains(" all include a mx ptr ip4 ip6 exists ", " "+m.name+" ") {
				t.Fatalf("%q: unknown mechanism %q accepted", rec, m.name)
			}
			if m.domain != "" {
				if _, err := c.expandDomain(m.domain, "example.test"); err != nil {
					t.Fatalf("%q: %q parsed but does not expand: %v", rec, m.domain, err)
				}
			}
		}
		for _, spec := range []string{r.redirect, r.exp} {
			if spec != "" {
				if _, err := c.expandDomain(spec, "example.test"); err != nil {
					t.Fatalf("%q: %q parsed but does not expand: %v", rec, spec, err)
				}
			}
		}
	})
}
