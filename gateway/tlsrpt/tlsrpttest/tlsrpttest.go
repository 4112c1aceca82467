// Package tlsrpttest reads the TLS report mails package tlsrpt sends, for the tests of the
// reporter and of the gateway that runs it. It is test-only.
package tlsrpttest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/tlsrpt"
)

// ParseReportMail checks the RFC 8460 §5.3 form of a report mail from submitter (the
// TLS-Report-* fields, multipart/report with a gzipped JSON attachment named as §5.3 says) and
// returns its domain and its report.
func ParseReportMail(t testing.TB, raw []byte, submitter string) (string, tlsrpt.Report) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	domain := m.Header.Get("TLS-Report-Domain")
	if m.Header.Get("TLS-Report-Submitter") != submitter || domain == "" {
		t.Errorf("report headers %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no application/tlsrpt+gzip part: %v", err)
		}
		if part.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		name := part.FileName()
		f := strings.Split(strings.TrimSuffix(name, ".json.gz"), "!")
		if len(f) != 5 || f[0] != submitter || f[1] != domain || !strings.HasSuffix(name, ".json.gz") {
			t.Errorf("attachment name %q", name)
		}
		if part.Header.Get("Content-Transfer-Encoding") != "base64" {
			t.Errorf("attachment encoding %q", part.Header.Get("Content-Transfer-Encoding"))
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, part))
		if err != nil {
			t.Fatal(err)
		}
		var r tlsrpt.Report
		if err := json.NewDecoder(zr).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return domain, r
	}
}
