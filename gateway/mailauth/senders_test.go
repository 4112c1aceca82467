package mailauth

import (
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
)

// TestSenderPolicy is the rule table of SenderPolicy: one row per rule.
func TestSenderPolicy(t *testing.T) {
	p := SenderPolicy{
		Ours:        func(d string) bool { return d == "example.test" || d == "relay.test" },
		DMARCExempt: []string{"lists.example.org"},
	}
	dk := func(result, domain string) []DKIMOutcome { return []DKIMOutcome{{Result: result, Domain: domain}} }
	cases := []struct {
		name string
		r    Results
		want Action
	}{
		{"foreign sender, no DMARC", Results{SPF: SPFNone, EnvelopeDomain: "other.test", FromDomains: []string{"other.test"}, DMARC: "none"}, Deliver},
		{"our envelope domain, SPF fail", Results{SPF: SPFFail, SPFDomain: "example.test", EnvelopeDomain: "example.test", FromDomains: []string{"other.test"}}, Reject},
		{"our envelope domain, SPF pass", Results{SPF: SPFPass, SPFDomain: "example.test", EnvelopeDomain: "example.test", FromDomains: []string{"example.test"}}, Deliver},
		{"our From: domain, SPF pass for another domain", Results{SPF: SPFPass, SPFDomain: "other.test", EnvelopeDomain: "other.test", FromDomains: []string{"example.test"}}, Reject},
		{"a relay domain in From:", Results{SPF: SPFNone, EnvelopeDomain: "other.test", FromDomains: []string{"relay.test"}}, Reject},
		{"our From: domain among others", Results{SPF: SPFPass, SPFDomain: "other.test", EnvelopeDomain: "other.test", FromDomains: []string{"other.test", "example.test"}}, Reject},
		{"our From: domain, aligned DKIM", Results{SPF: SPFFail, SPFDomain: "other.test", EnvelopeDomain: "other.test", FromDomains: []string{"example.test"}, DKIM: dk("pass", "mail.example.test")}, Deliver},
		{"our From: domain, failed DKIM", Results{SPF: SPFNone, EnvelopeDomain: "other.test", FromDomains: []string{"example.test"}, DKIM: dk("fail", "example.test")}, Reject},
		{"our domain, SPF temperror", Results{SPF: SPFTempError, SPFDomain: "example.test", EnvelopeDomain: "example.test"}, Defer},
		{"our domain, DKIM temperror", Results{SPF: SPFFail, SPFDomain: "other.test", EnvelopeDomain: "other.test", FromDomains: []string{"example.test"}, DKIM: dk("temperror", "example.test")}, Defer},
		{"our From: domain, SPF temperror for another domain", Results{SPF: SPFTempError, SPFDomain: "other.test", EnvelopeDomain: "other.test", FromDomains: []string{"example.test"}}, Reject},
		{"null sender, From: ours, HELO passes", Results{SPF: SPFPass, SPFDomain: "mx.example.test", FromDomains: []string{"example.test"}}, Deliver},
		{"DMARC fail, p=reject", Results{SPF: SPFFail, EnvelopeDomain: "bank.test", FromDomains: []string{"bank.test"}, DMARC: "fail", DMARCFrom: "bank.test", DMARCPolicy: string(dmarc.PolicyReject)}, Reject},
		{"DMARC fail, p=quarantine", Results{SPF: SPFFail, EnvelopeDomain: "bank.test", FromDomains: []string{"bank.test"}, DMARC: "fail", DMARCFrom: "bank.test", DMARCPolicy: string(dmarc.PolicyQuarantine)}, Junk},
		{"DMARC fail, p=none", Results{DMARC: "fail", DMARCPolicy: string(dmarc.PolicyNone)}, Deliver},
		{"DMARC pass, p=reject", Results{DMARC: "pass", DMARCPolicy: string(dmarc.PolicyReject)}, Deliver},
		{"DMARC temperror", Results{DMARC: "temperror"}, Deliver},
		{"too many author domains", Results{FromDomains: []string{"a.test", "b.test", "c.test", "d.test", "e.test", "f.test"}, DMARC: "permerror"}, Reject},
		{"list, SPF pass for the list", Results{SPF: SPFPass, SPFDomain: "lists.example.org", EnvelopeDomain: "lists.example.org", FromDomains: []string{"bank.test"}, DMARC: "fail", DMARCPolicy: "reject"}, Deliver},
		{"list reposting our user, DKIM of a list subdomain", Results{SPF: SPFFail, EnvelopeDomain: "bounce.test", FromDomains: []string{"example.test"}, DKIM: dk("pass", "mail.lists.example.org"), DMARC: "fail", DMARCPolicy: "reject"}, Deliver},
		{"list domain claimed without SPF pass", Results{SPF: SPFFail, SPFDomain: "lists.example.org", EnvelopeDomain: "lists.example.org", FromDomains: []string{"bank.test"}, DMARC: "fail", DMARCPolicy: "reject"}, Reject},
		{"look-alike of the list domain", Results{SPF: SPFPass, SPFDomain: "evillists.example.org", EnvelopeDomain: "evillists.example.org", DMARC: "fail", DMARCPolicy: "reject"}, Reject},
	}
	for _, tc := range cases {
		if got := p.judge(tc.r); got.Action != tc.want {
			t.Errorf("%s: %+v, want action %d", tc.name, got, tc.want)
		}
	}
	if got := (SenderPolicy{}).judge(Results{SPF: SPFFail, EnvelopeDomain: "example.test"}); got.Action != Deliver {
		t.Errorf("no domain is ours without Ours: %+v", got)
	}
}

func TestEffectivePolicy(t *testing.T) {
	pct := func(n int) *int { return &n }
	cases := []struct {
		rec          dmarc.Record
		from, recDom string
		want         dmarc.Policy
	}{
		{dmarc.Record{Policy: dmarc.PolicyReject}, "a.test", "a.test", dmarc.PolicyReject},
		{dmarc.Record{Policy: dmarc.PolicyReject, SubdomainPolicy: dmarc.PolicyNone}, "sub.a.test", "a.test", dmarc.PolicyNone},
		{dmarc.Record{Policy: dmarc.PolicyReject, SubdomainPolicy: dmarc.PolicyNone}, "a.test", "a.test", dmarc.PolicyReject},
		{dmarc.Record{Policy: dmarc.PolicyReject, Percent: pct(50)}, "a.test", "a.test", dmarc.PolicyQuarantine},
		{dmarc.Record{Policy: dmarc.PolicyQuarantine, Percent: pct(0)}, "a.test", "a.test", dmarc.PolicyNone},
		{dmarc.Record{Policy: dmarc.PolicyQuarantine, Percent: pct(100)}, "a.test", "a.test", dmarc.PolicyQuarantine},
	}
	for _, tc := range cases {
		if got := effectivePolicy(&tc.rec, tc.from, tc.recDom); got != tc.want {
			t.Errorf("%+v for %s: %s, want %s", tc.rec, tc.from, got, tc.want)
		}
	}
}
