package usermsg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

func nested(depth int) string {
	return string(mimelimittest.Nested("From: Sender <sender@example.org>\r\nSubject: nested\r\n", depth))
}

// A message beyond the structure bounds is shown as its header and one attachment holding its
// body; one within them is walked.
func TestParseBeyondLimits(t *testing.T) {
	deep := nested(10000)
	m, err := Parse(strings.NewReader(deep))
	if err != nil {
		t.Fatal(err)
	}
	body := deep[strings.Index(deep, "\r\n\r\n")+4:]
	if m.Subject != "nested" || m.Text != "" || len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, []byte(body)) ||
		m.Attachments[0].ContentType != "application/octet-stream" {
		t.Fatalf("deep message: subject %q, text %q, %d attachments", m.Subject, m.Text, len(m.Attachments))
	}
	m, err = Parse(strings.NewReader(nested(3)))
	if err != nil || strings.TrimSpace(m.Text) != "innermost" || len(m.Attachments) != 0 {
		t.Fatalf("shallow message: %v, text %q, %d attachments", err, m.Text, len(m.Attachments))
	}
}

// FuzzParse: Parse answers every message, and one beyond the bounds with a single attachment.
func FuzzParse(f *testing.F) {
	f.Add([]byte(nested(3)))
	f.Add([]byte(nested(mimelimit.MaxDepth + 1)))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nA\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, _ := Parse(bytes.NewReader(msg))
		if m != nil && mimelimit.Check(bytes.NewReader(msg)) != nil && len(m.Attachments) != 1 {
			t.Fatalf("a message beyond the bounds has %d attachments", len(m.Attachments))
		}
	})
}

// Parse shows what a mail reader shows: decoded header words and addresses, text in UTF-8
// whatever its transfer encoding and charset, attachments with their decoded names.
func TestParseDecodes(t *testing.T) {
	msg := "From: =?iso-8859-1?q?J=F6rg?= <jorg@example.org>\r\n" +
		"To: a@example.org, \"B, Bee\" <b@example.org>\r\n" +
		"Subject: =?utf-8?b?R3LDvMOfZQ==?= und =?iso-8859-15?q?=A4uro?=\r\n" +
		"Date: Mon, 2 Jan 2006 15:04:05 +0000\r\n" +
		"Message-Id:  <id@example.org> \r\n" +
		"References: <a@x>\r\n <b@x>\r\n" +
		"Authentication-Results: mx; dkim=pass\r\n" +
		"Authentication-Results: mx; spf=fail\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=x.pdf\r\n" +
		"Content-Disposition: attachment; filename=\"=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBE\r\nRi0=\r\n" +
		"--b1\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n" +
		"--b1--\r\n"
	m, err := Parse(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.From) != 1 || m.From[0] != (Address{Name: "Jörg", Address: "jorg@example.org"}) ||
		len(m.To) != 2 || m.To[1] != (Address{Name: "B, Bee", Address: "b@example.org"}) {
		t.Errorf("addresses %v %v", m.From, m.To)
	}
	if m.Subject != "Grüße und €uro" || m.MessageID != "<id@example.org>" || strings.Join(m.References, " ") != "<a@x> <b@x>" ||
		m.Date.Unix() != 1136214245 || len(m.AuthResults) != 2 || m.AuthResults[1] != "mx; spf=fail" {
		t.Errorf("header: %q %q %q %v %q", m.Subject, m.MessageID, m.References, m.Date, m.AuthResults)
	}
	if m.Text != "Grüße" || m.HTML != "<p>hi</p>" {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "Résumé.pdf" || m.Attachments[0].ContentType != "application/pdf" ||
		string(m.Attachments[0].Data) != "%PDF-" {
		t.Errorf("attachments %+v", m.Attachments)
	}
	h := ParseHeader([]byte(msg))
	if h.Subject != m.Subject || len(h.From) != 1 || h.From[0] != m.From[0] || !h.Date.Equal(m.Date) || len(h.AuthResults) != 2 {
		t.Errorf("ParseHeader %+v", h)
	}
}

// The header section ends at the first empty line, one with nothing but CRs included, as
// everywhere else in the gateway (mimeutil's rule); a field that is not name: value does not
// hide the message.
func TestParseHeaderSection(t *testing.T) {
	for _, msg := range []string{
		"Subject: s\r\n\r\r\nbody\r\n",
		"Subject: s\r\nnot a field\r\n\r\nbody\r\n",
		"Subject: s\n\nbody\n",
	} {
		m, err := Parse(strings.NewReader(msg))
		if m == nil {
			t.Errorf("%q: not read: %v", msg, err)
		} else if err != nil || m.Subject != "s" || strings.TrimSpace(m.Text) != "body" {
			t.Errorf("%q: %v, subject %q, text %q", msg, err, m.Subject, m.Text)
		}
		if h := ParseHeader([]byte(msg)); h.Subject != "s" {
			t.Errorf("%q: ParseHeader subject %q", msg, h.Subject)
		}
	}
}
