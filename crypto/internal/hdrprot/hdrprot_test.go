package hdrprot

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

func header(s string) mimeutil.Header { return mimeutil.ParseHeader([]byte(s)) }

func count(h []byte, name string) int {
	n := 0
	for _, f := range mimeutil.ParseHeader(h).Fields {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

const outerTB = "To: alice@openpgp.example\r\nFrom: Bob <bob@openpgp.example>\r\nMessage-ID: <m1@x>\r\nDate: Wed, 14 Oct 2020 13:55:14 -0400\r\nMIME-Version: 1.0\r\nSubject: ...\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n"

// The legacy form as Delta Chat writes it: the decrypted entity carries the fields.
func TestMergeLegacyTopLevel(t *testing.T) {
	inner := header("Content-Type: text/plain; charset=\"utf-8\"; protected-headers=\"v1\"\r\nFrom: <bob@openpgp.example>\r\nTo: <alice@openpgp.example>\r\nSubject: Real subject\r\nChat-Version: 1.0\r\n")
	m := Merge(header(outerTB), inner, nil, "\r\n")
	for _, name := range []string{"From", "To", "Subject", "Message-ID", "Date", "MIME-Version", "Content-Type"} {
		if c := count(m.Header, name); c != 1 {
			t.Errorf("%s appears %d times in\n%s", name, c, m.Header)
		}
	}
	h := header(string(m.Header))
	if h.Get("Subject") != "Real subject" || m.Subject != "Real subject" {
		t.Errorf("Subject %q (result %q)", h.Get("Subject"), m.Subject)
	}
	if h.Get("From") != "Bob <bob@openpgp.example>" {
		t.Errorf("From %q: the outer, authenticated From must stay", h.Get("From"))
	}
	if h.Get("To") != "<alice@openpgp.example>" {
		t.Errorf("To %q: the inner field must win", h.Get("To"))
	}
	// Without a From outside, the protected one is all there is.
	noFrom := header(strings.Replace(outerTB, "From: Bob <bob@openpgp.example>\r\n", "", 1))
	if m := Merge(noFrom, inner, nil, "\r\n"); header(string(m.Header)).Get("From") != "<bob@openpgp.example>" || count(m.Header, "From") != 1 {
		t.Errorf("without an outer From:\n%s", m.Header)
	}
	if ct := h.Get("Content-Type"); strings.Contains(ct, "protected-headers") || !strings.Contains(ct, "charset=\"utf-8\"") {
		t.Errorf("Content-Type %q", ct)
	}
}

// RFC 9788: hp="cipher" and HP-Outer fields, which are dropped once the header is lifted.
func TestMergeRFC9788(t *testing.T) {
	inner := header("Content-Type: multipart/mixed; boundary=\"x\"; hp=\"cipher\"\r\nSubject: Hidden\r\nFrom: Bob <bob@openpgp.example>\r\nTo: alice@openpgp.example\r\nHP-Outer: Subject: [...]\r\nHP-Outer: From: Bob <bob@openpgp.example>\r\n")
	m := Merge(header(strings.Replace(outerTB, "Subject: ...", "Subject: [...]", 1)), inner, nil, "\r\n")
	if bytes.Contains(m.Header, []byte("HP-Outer")) || bytes.Contains(m.Header, []byte("hp=")) || bytes.Contains(m.Header, []byte("[...]")) {
		t.Errorf("merged header:\n%s", m.Header)
	}
	if count(m.Header, "Subject") != 1 || m.Subject != "Hidden" {
		t.Errorf("merged header:\n%s", m.Header)
	}
}

// Thunderbird signs, then encrypts: the marked part is the signed part inside a
// multipart/signed, which must keep every byte.
func TestMergeSignedPart(t *testing.T) {
	inner := header("Content-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\";\r\n boundary=\"sig\"\r\n")
	body := "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--sig\r\nContent-Type: multipart/mixed; boundary=\"mix\";\r\n protected-headers=\"v1\"\r\nFrom: Bob Babbage <bob@openpgp.example>\r\nTo: alice@openpgp.example\r\nMessage-ID: <m1@x>\r\nSubject: Signed Encrypted\r\n\r\n--mix\r\n"
	if !NeedsBody(inner) {
		t.Fatal("NeedsBody is false for an unmarked multipart/signed")
	}
	m := Merge(header(outerTB), inner, []byte(body), "\r\n")
	if m.Subject != "Signed Encrypted" {
		t.Errorf("Subject %q", m.Subject)
	}
	for _, name := range []string{"From", "To", "Subject", "Message-ID", "Date"} {
		if c := count(m.Header, name); c != 1 {
			t.Errorf("%s appears %d times in\n%s", name, c, m.Header)
		}
	}
	if !strings.HasSuffix(string(m.Header), string(inner.Fields[0].Raw)) {
		t.Errorf("the multipart/signed Content-Type must stay as it was:\n%s", m.Header)
	}
	// A prefix that ends inside the part's header lifts nothing.
	if m := Merge(header(outerTB), inner, []byte(body[:120]), "\r\n"); m.Subject != "" || header(string(m.Header)).Get("Subject") != "..." {
		t.Errorf("truncated prefix: %q\n%s", m.Subject, m.Header)
	}
}

// Without a marker the decrypted entity's fields still win, and none is written twice.
func TestMergeUnmarked(t *testing.T) {
	inner := header("Content-Type: text/plain\r\nSubject: inner\r\n")
	m := Merge(header(outerTB), inner, nil, "\r\n")
	if count(m.Header, "Subject") != 1 || header(string(m.Header)).Get("Subject") != "inner" || m.Subject != "" {
		t.Errorf("merged header:\n%s", m.Header)
	}
}

func TestWriteProtected(t *testing.T) {
	h := header("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Secret plans\r\nKeywords: x\r\nReceived: from a by b\r\nContent-Type: text/plain; charset=utf-8\r\nMIME-Version: 1.0\r\n")
	var outer, payload bytes.Buffer
	WriteOuter(&outer, h, true)
	WritePayloadHeader(&payload, h, true)
	if strings.Contains(outer.String(), "Secret plans") || strings.Contains(outer.String(), "Keywords") || !strings.Contains(outer.String(), "Subject: ...\r\n") || strings.Contains(outer.String(), "Content-Type") {
		t.Errorf("outer:\n%s", outer.String())
	}
	ph := header(strings.TrimSuffix(payload.String(), "\r\n"))
	_, params := ph.ContentType()
	if params["hp"] != "cipher" || params["protected-headers"] != "v1" || params["charset"] != "utf-8" {
		t.Errorf("payload Content-Type params %v", params)
	}
	if ph.Get("Subject") != "Secret plans" || ph.Get("Keywords") != "x" || ph.Get("Received") != "" || ph.Get("MIME-Version") != "" {
		t.Errorf("payload header:\n%s", payload.String())
	}
	outers := ph.Values("HP-Outer")
	if !contains(outers, "Subject: ...") || !contains(outers, "From: Alice <alice@example.test>") || contains(outers, "Keywords: x") {
		t.Errorf("HP-Outer %q", outers)
	}
	// Reading back what was written gives the original fields once each.
	m := Merge(header(outer.String()), ph, nil, "\r\n")
	if got := header(string(m.Header)); got.Get("Subject") != "Secret plans" || count(m.Header, "From") != 1 || got.Get("HP-Outer") != "" {
		t.Errorf("round trip:\n%s", m.Header)
	}
	// Protecting an already protected entity does not repeat the markers.
	var again bytes.Buffer
	WritePayloadHeader(&again, ph, true)
	if n := strings.Count(again.String(), "hp="); n != 1 {
		t.Errorf("hp= %d times:\n%s", n, again.String())
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestWithoutMarkers(t *testing.T) {
	for in, want := range map[string]string{
		`text/plain; protected-headers="v1"`:                 "text/plain",
		`multipart/mixed; boundary="a;hp=x"; hp="cipher"`:    `multipart/mixed; boundary="a;hp=x"`,
		`text/plain; charset=utf-8; HP=clear; format=flowed`: "text/plain; charset=utf-8; format=flowed",
		`text/plain; name="a\"; hp=b"; protected-headers=v1`: `text/plain; name="a\"; hp=b"`,
		`text/plain;`: "text/plain",
	} {
		if got := withoutMarkers(in); got != want {
			t.Errorf("withoutMarkers(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMerge: any outer header, decrypted header and body prefix give a header block in
// which a field of the decrypted entity is never also taken from outside.
func FuzzMerge(f *testing.F) {
	f.Add([]byte(outerTB), []byte("Content-Type: multipart/signed; boundary=sig\r\n"), []byte("--sig\r\nContent-Type: text/plain; protected-headers=v1\r\nSubject: s\r\n\r\nx"))
	f.Add([]byte(outerTB), []byte("Content-Type: text/plain; hp=cipher\r\nSubject: s\r\nHP-Outer: Subject: ...\r\n"), []byte(nil))
	f.Add([]byte(outerTB), []byte("Content-Type: multipart/mixed; boundary=m; protected-headers=v1\r\n"), []byte("--m\r\nContent-Type: text/rfc822-headers; protected-headers=v1\r\n\r\nSubject: s\r\n--m\r\n\r\nx\r\n--m--\r\n"))
	f.Add([]byte(outerTB), []byte("Content-Type: text/plain; hp=cipher; hp-legacy-display=1\r\n"), []byte("Subject: s\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, outer, inner, body []byte) {
		if len(outer)+len(inner)+len(body) > 1<<16 {
			return
		}
		ih := mimeutil.ParseHeader(inner)
		m := Merge(mimeutil.ParseHeader(outer), ih, body, "\r\n")
		if len(m.Header) > len(outer)+len(inner)+len(body)+64 {
			t.Fatalf("merged header of %d bytes from %d input bytes", len(m.Header), len(outer)+len(inner)+len(body))
		}
		if m.Skip[0] < 0 || m.Skip[0] > m.Skip[1] || m.Skip[1] > len(body) {
			t.Fatalf("Skip %v outside a body of %d bytes", m.Skip, len(body))
		}
	})
}

// Legacy display elements: the Enigmail / draft form (a text/rfc822-headers first part) and
// RFC 9788's text/plain header lines marked hp-legacy-display="1" are left out once the
// fields are in the header.
func TestMergeLegacyDisplay(t *testing.T) {
	for _, tc := range []struct {
		name, inner, body, want string
	}{
		{"rfc822-headers part",
			"Content-Type: multipart/mixed; boundary=\"m\"; protected-headers=\"v1\"\r\nSubject: Real\r\n",
			"--m\r\nContent-Type: text/rfc822-headers; protected-headers=\"v1\"\r\nContent-Disposition: inline\r\n\r\nSubject: Real\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nBody.\r\n--m--\r\n",
			"--m\r\nContent-Type: text/plain\r\n\r\nBody.\r\n--m--\r\n"},
		{"only part kept",
			"Content-Type: multipart/mixed; boundary=\"m\"; protected-headers=\"v1\"\r\nSubject: Real\r\n",
			"--m\r\nContent-Type: text/rfc822-headers; protected-headers=\"v1\"\r\n\r\nSubject: Real\r\n--m--\r\n",
			"--m\r\nContent-Type: text/rfc822-headers; protected-headers=\"v1\"\r\n\r\nSubject: Real\r\n--m--\r\n"},
		{"ordinary first part",
			"Content-Type: multipart/mixed; boundary=\"m\"; hp=\"cipher\"\r\nSubject: Real\r\n",
			"--m\r\nContent-Type: text/plain\r\n\r\nSubject: Real\r\n--m\r\nContent-Type: text/plain\r\n\r\nB\r\n--m--\r\n",
			"--m\r\nContent-Type: text/plain\r\n\r\nSubject: Real\r\n--m\r\nContent-Type: text/plain\r\n\r\nB\r\n--m--\r\n"},
		{"signed part of a marked multipart/signed",
			"Content-Type: multipart/signed; boundary=\"s\"; protocol=\"application/pgp-signature\"; protected-headers=\"v1\"\r\nSubject: Real\r\n",
			"--s\r\nContent-Type: text/plain; protected-headers=\"v1\"\r\n\r\nSigned.\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n",
			"--s\r\nContent-Type: text/plain; protected-headers=\"v1\"\r\n\r\nSigned.\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n"},
		{"rfc9788 text/plain",
			"Content-Type: text/plain; charset=utf-8; hp=\"cipher\"; hp-legacy-display=\"1\"\r\nSubject: Real\r\n",
			"Subject: Real\r\nTo: bob@example.test\r\n\r\nBody.\r\n",
			"Body.\r\n"},
		{"rfc9788 text/plain quoted-printable",
			"Content-Type: text/plain; hp=\"cipher\"; hp-legacy-display=\"1\"\r\nContent-Transfer-Encoding: quoted-printable\r\nSubject: Real\r\n",
			"Subject: Real\r\n\r\nBody.\r\n",
			"Subject: Real\r\n\r\nBody.\r\n"},
		{"text/plain without the marker",
			"Content-Type: text/plain; hp=\"cipher\"\r\nSubject: Real\r\n",
			"Subject: Real\r\n\r\nBody.\r\n",
			"Subject: Real\r\n\r\nBody.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := header(tc.inner)
			if !NeedsBody(inner) {
				t.Fatal("NeedsBody is false")
			}
			m := Merge(header(outerTB), inner, []byte(tc.body), "\r\n")
			if got := tc.body[:m.Skip[0]] + tc.body[m.Skip[1]:]; got != tc.want {
				t.Errorf("body %q, want %q", got, tc.want)
			}
			if bytes.Contains(m.Header, []byte("hp-legacy-display")) || count(m.Header, "Subject") != 1 {
				t.Errorf("header:\n%s", m.Header)
			}
		})
	}
}

func TestFold(t *testing.T) {
	long := strings.Repeat("<0123456789abcdef@example.test> ", 40) + "<last@example.test>"
	for _, v := range []string{"short", long, `multipart/mixed; boundary="a  b"; name="x"`, strings.Repeat("x", 200)} {
		f := fold("References", v, "\r\n")
		for _, l := range strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n") {
			if len(l) > 78 && strings.Contains(strings.TrimSpace(strings.TrimPrefix(l, "References:")), " ") {
				t.Errorf("line of %d characters: %q", len(l), l)
			}
		}
		if got := header(f).Get("References"); got != strings.TrimSpace(v) {
			t.Errorf("unfolded %q, want %q", got, v)
		}
		if un := strings.ReplaceAll(f, "\r\n ", " "); un != "References: "+v+"\r\n" {
			t.Errorf("unfolding does not give the value back: %q", un)
		}
	}
}
