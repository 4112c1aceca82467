package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/netip"
	"net/textproto"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
)

func signed(t *testing.T, key ed25519.PrivateKey, domain, from string) []byte {
	t.Helper()
	msg := "From: Sender <" + from + ">\r\nTo: bob@example.test\r\nSubject: dkim\r\nDate: Thu, 26 Nov 2026 08:00:00 +0000\r\n\r\nHello.\r\n"
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: key}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDKIMAndDMARC(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	rec := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	dns := dnstest.Start(t, dnstest.Zone{
		"s1._domainkey.sender.test. TXT":     {rec},
		"_dmarc.sender.test. TXT":            {"v=DMARC1; p=reject"},
		"sender.test. TXT":                   {"v=spf1 ip4:192.0.2.0/24 -all"},
		"_dmarc.strict.test. TXT":            {"v=DMARC1; p=quarantine; adkim=s"},
		"s1._domainkey.strict.test. TXT":     {rec},
		"s1._domainkey.sub.strict.test. TXT": {rec},
	})
	c := &Checker{Resolver: dns.Resolver()}
	ip := netip.MustParseAddr("198.51.100.1") // not in sender.test's SPF: DMARC rests on DKIM
	cases := []struct {
		name        string
		msg         []byte
		mailFrom    string
		dkim, dmarc string
	}{
		{"aligned dkim", signed(t, key, "sender.test", "a@sender.test"), "a@sender.test", "pass", "pass"},
		{"tampered body", bytes.Replace(signed(t, key, "sender.test", "a@sender.test"), []byte("Hello."), []byte("Hellx."), 1), "a@sender.test", "fail", "fail"},
		{"unknown selector", signed(t, key, "nokey.test", "a@sender.test"), "a@sender.test", "permerror", "fail"},
		{"relaxed alignment of a subdomain", signed(t, key, "sub.strict.test", "a@strict.test"), "", "pass", "fail"},
		{"strict alignment", signed(t, key, "strict.test", "a@strict.test"), "", "pass", "pass"},
		{"no DMARC record", signed(t, key, "sender.test", "a@elsewhere.test"), "", "pass", "none"},
	}
	for _, tc := range cases {
		r := c.Check(context.Background(), Input{IP: ip, Helo: "client.test", MailFrom: tc.mailFrom, Message: tc.msg})
		if len(r.DKIM) != 1 || r.DKIM[0].Result != tc.dkim || r.DMARC != tc.dmarc {
			t.Errorf("%s: dkim %+v dmarc %s, want %s %s", tc.name, r.DKIM, r.DMARC, tc.dkim, tc.dmarc)
		}
		// The same with the header section parsed by the caller.
		h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(tc.msg))).ReadMIMEHeader()
		if err != nil {
			t.Fatal(err)
		}
		r = c.Check(context.Background(), Input{IP: ip, Helo: "client.test", MailFrom: tc.mailFrom, Message: tc.msg, Header: h})
		if len(r.DKIM) != 1 || r.DKIM[0].Result != tc.dkim || r.DMARC != tc.dmarc {
			t.Errorf("%s, parsed header given: dkim %+v dmarc %s, want %s %s", tc.name, r.DKIM, r.DMARC, tc.dkim, tc.dmarc)
		}
	}
	// A given header is what DMARC reads the From: domain from.
	r := c.Check(context.Background(), Input{IP: ip, Helo: "client.test", MailFrom: "a@sender.test",
		Message: signed(t, key, "sender.test", "a@sender.test"),
		Header:  textproto.MIMEHeader{"From": {"a@elsewhere.test"}}})
	if r.DMARC != "none" || r.DMARCFrom != "elsewhere.test" {
		t.Fatalf("DMARC with a given header: %s from %s, want none from elsewhere.test", r.DMARC, r.DMARCFrom)
	}
	// Every author domain is checked: a second From: field or address cannot carry a forged
	// one through.
	for _, from := range [][]string{{"a@sender.test", "b@strict.test"}, {"a@sender.test, b@strict.test"}, {"b@strict.test, <<<"}} {
		r = c.Check(context.Background(), Input{IP: ip, Helo: "client.test", MailFrom: "a@sender.test",
			Message: signed(t, key, "sender.test", "a@sender.test"),
			Header:  textproto.MIMEHeader{"From": from}})
		if r.DMARC != "fail" || r.DMARCFrom != "strict.test" || r.DMARCPolicy != "quarantine" {
			t.Fatalf("From: %q: DMARC %s from %s (%s), want fail from strict.test (quarantine)", from, r.DMARC, r.DMARCFrom, r.DMARCPolicy)
		}
	}
	// SPF alone aligns too.
	r = c.Check(context.Background(), Input{IP: netip.MustParseAddr("192.0.2.9"), Helo: "client.test", MailFrom: "b@sender.test",
		Message: []byte("From: b@sender.test\r\nSubject: x\r\n\r\nbody\r\n")})
	if r.SPF != SPFPass || r.DMARC != "pass" || r.DMARCPolicy != "reject" {
		t.Fatalf("spf-aligned: %+v", r)
	}
	h := r.AuthResults("mx.example.test", &authres.GenericResult{Method: "smime", Value: authres.ResultPass, Params: map[string]string{"body.smime-identifier": "b@sender.test"}})
	for _, want := range []string{"mx.example.test; spf=pass smtp.mailfrom=sender.test", "dkim=none", "dmarc=pass header.from=sender.test", "smime=pass body.smime-identifier=b@sender.test"} {
		if !strings.Contains(h, want) {
			t.Fatalf("Authentication-Results %q lacks %q", h, want)
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += n
	return n, err
}

// A message checked through Open has its From: field read from the header section alone: the
// read stops at the section's end (mimeutil's rule) instead of taking a megabyte of body.
func TestCheckOpenReadsHeaderSection(t *testing.T) {
	dns := dnstest.Start(t, dnstest.Zone{"_dmarc.sender.test. TXT": {"v=DMARC1; p=reject"}})
	c := &Checker{Resolver: dns.Resolver()}
	msg := []byte("From: a@sender.test\r\nSubject: big\r\n\r\n" + strings.Repeat("body line\r\n", 100000))
	var reads []*int
	open := func() io.Reader {
		reads = append(reads, new(int))
		return countingReader{bytes.NewReader(msg), reads[len(reads)-1]}
	}
	r := c.Check(context.Background(), Input{IP: netip.MustParseAddr("198.51.100.1"), Helo: "client.test", Open: open})
	if len(r.FromDomains) != 1 || r.FromDomains[0] != "sender.test" || r.DMARC != "fail" || r.DMARCPolicy != "reject" {
		t.Fatalf("From %q, DMARC %s (%s)", r.FromDomains, r.DMARC, r.DMARCPolicy)
	}
	if len(reads) != 2 || min(*reads[0], *reads[1]) > 64<<10 {
		t.Fatalf("%d reads: the header read went on into the body", len(reads))
	}
}
