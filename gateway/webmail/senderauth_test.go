package webmail_test

import (
	"strings"
	"testing"
)

// TestDMARCFailShown: mail that fails its sender domain's DMARC policy carries a visible
// badge in the list and the read view, read only from the Authentication-Results the gateway
// wrote: a forged result claiming the gateway's id, or another service's result, changes
// nothing.
func TestDMARCFailShown(t *testing.T) {
	e := start(t)
	host := e.Config.Hostname
	e.DNS.Set("news.test. TXT", "v=spf1 ip4:192.0.2.4 -all") // not the test client
	e.DNS.Set("_dmarc.news.test. TXT", "v=DMARC1; p=none")
	e.DNS.Set("remote.test. TXT", "v=spf1 ip4:127.0.0.1 -all")
	e.DNS.Set("_dmarc.remote.test. TXT", "v=DMARC1; p=reject")
	// Forged: a pass in our name (removed by the gateway) above the real fail.
	e.deliver(t, "editor@news.test", alice, "Authentication-Results: "+strings.ToUpper(host)+" 1; dmarc=pass header.from=news.test\n"+
		"From: Editor <editor@news.test>\nTo: alice@example.test\nSubject: forged news\n\nRead this.\n")
	// Genuine mail, with another service's failing result in it.
	e.deliver(t, "carol@remote.test", alice, "Authentication-Results: mx.upstream.test; dmarc=fail header.from=remote.test\n"+
		"From: Carol <carol@remote.test>\nTo: alice@example.test\nSubject: real note\n\nHello.\n")

	b := e.browser(t)
	b.mustLogin(alice, alicePW)
	list := b.get("/mail/").body
	forged, real := rowOf(list, "forged news"), rowOf(list, "real note")
	if !strings.Contains(forged, "sender not verified") || strings.Contains(real, "sender not verified") {
		t.Fatalf("list badges wrong:\nforged: %s\nreal: %s", forged, real)
	}
	if r := b.get("/mail/read?box=INBOX&uid=1"); !strings.Contains(r.body, "Sender NOT verified (DMARC fail)") {
		t.Fatalf("read view of the failing message has no DMARC badge: %s", r.body)
	}
	if r := b.get("/mail/read?box=INBOX&uid=2"); strings.Contains(r.body, "Sender NOT verified") {
		t.Fatalf("read view of genuine mail shows a DMARC badge: %s", r.body)
	}
}

// rowOf is the list row (<tr>…</tr>) that contains subject.
func rowOf(page, subject string) string {
	i := strings.Index(page, subject)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(page[:i], "<tr")
	end := strings.Index(page[i:], "</tr>")
	if start < 0 || end < 0 {
		return ""
	}
	return page[start : i+end]
}
