package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// ErrNoRecord: the domain publishes no usable TLSRPT record.
var ErrNoRecord = errors.New("tlsrpt: no TLSRPT record")

const (
	maxRecordLen = 2048
	maxRUA       = 16
)

// ParseRecord reads the TXT strings of _smtp._tls.DOMAIN (RFC 8460 §3) and returns the
// addresses of its mailto: rua URIs; https: URIs are skipped. Exactly one record must start
// with "v=TLSRPTv1" (§3: otherwise none is used).
func ParseRecord(txts []string) ([]string, error) {
	var rec string
	n := 0
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1") {
			rec = t
			n++
		}
	}
	if n != 1 {
		return nil, ErrNoRecord
	}
	if len(rec) > maxRecordLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrNoRecord, maxRecordLen)
	}
	var rua []string
	for _, field := range strings.Split(rec, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		if strings.TrimSpace(k) != "rua" {
			continue
		}
		for _, u := range strings.Split(v, ",") {
			u = strings.TrimSpace(u)
			if len(u) < 7 || !strings.EqualFold(u[:7], "mailto:") {
				continue
			}
			addr, _, _ := strings.Cut(u[7:], "?")
			addr, err := url.PathUnescape(addr)
			if err != nil {
				continue
			}
			if a, err := mail.ParseAddress(addr); err == nil && a.Name == "" && !strings.ContainsAny(a.Address, "\r\n") {
				rua = append(rua, a.Address)
			}
			if len(rua) == maxRUA {
				return rua, nil
			}
		}
	}
	if len(rua) == 0 {
		return nil, fmt.Errorf("%w: no mailto: rua", ErrNoRecord)
	}
	return rua, nil
}

// Report is the RFC 8460 §4.4 JSON report.
type Report struct {
	OrganizationName string    `json:"organization-name"`
	DateRange        DateRange `json:"date-range"`
	ContactInfo      string    `json:"contact-info"`
	ReportID         string    `json:"report-id"`
	Policies         []Policy  `json:"policies"`
}

// DateRange is the interval a report covers.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// Policy is one policy's result.
type Policy struct {
	Policy         PolicyDesc       `json:"policy"`
	Summary        Summary          `json:"summary"`
	FailureDetails []FailureDetails `json:"failure-details,omitempty"`
}

// PolicyDesc names a policy.
type PolicyDesc struct {
	Type   string   `json:"policy-type"`
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
}

// Summary counts a policy's sessions.
type Summary struct {
	Success int64 `json:"total-successful-session-count"`
	Failure int64 `json:"total-failure-session-count"`
}

// FailureDetails is one kind of failure with one MX address.
type FailureDetails struct {
	ResultType     string `json:"result-type"`
	ReceivingMX    string `json:"receiving-mx-hostname,omitempty"`
	ReceivingIP    string `json:"receiving-ip,omitempty"`
	Count          int64  `json:"failed-session-count"`
	AdditionalInfo string `json:"additional-information,omitempty"`
}

// Mail is a composed report mail.
type Mail struct {
	Report Report
	// Filename is the attachment's name (RFC 8460 §5.1).
	Filename string
	Content  []byte // the whole message, CRLF line ends
}

// ComposeOptions say who reports.
type ComposeOptions struct {
	Submitter string // this gateway's host name: organization-name and TLS-Report-Submitter
	From      string // the report's sender, postmaster@ a local domain
	To        []string
}

// Compose writes the report of one domain's counts in period p.
func Compose(o ComposeOptions, domain string, policies []*PolicyCounts, begin, end time.Time) (Mail, error) {
	begin, end = begin.UTC().Truncate(time.Second), end.UTC().Truncate(time.Second)
	var idb [8]byte
	rand.Read(idb[:])
	id := begin.Format("20060102T150405Z") + "_" + domain + "_" + hex.EncodeToString(idb[:])
	r := Report{OrganizationName: o.Submitter, DateRange: DateRange{begin, end}, ContactInfo: o.From, ReportID: id}
	for _, p := range policies {
		pol := Policy{Policy: PolicyDesc{Type: p.Type, String: p.Strings, Domain: domain}, Summary: Summary{p.Success, p.Failure}}
		for _, d := range p.Details {
			pol.FailureDetails = append(pol.FailureDetails, FailureDetails{ResultType: d.ResultType, ReceivingMX: d.MXHost,
				ReceivingIP: d.IP, Count: d.Count, AdditionalInfo: d.Detail})
		}
		r.Policies = append(r.Policies, pol)
	}
	js, err := json.Marshal(r)
	if err != nil {
		return Mail{}, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(js)
	if err := zw.Close(); err != nil {
		return Mail{}, err
	}
	// §5.1: sender!policy-domain!begin!end!unique-id.json.gz, timestamps in seconds.
	name := fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", o.Submitter, domain, begin.Unix(), end.Unix(), hex.EncodeToString(idb[:]))
	var b bytes.Buffer
	boundary := "tlsrpt-" + hex.EncodeToString(idb[:])
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", "<"+o.From+">")
	h("To", "<"+strings.Join(o.To, ">, <")+">")
	h("Date", end.Format(time.RFC1123Z))
	h("Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, o.Submitter, id))
	h("TLS-Report-Domain", domain)
	h("TLS-Report-Submitter", o.Submitter)
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/report; report-type="tlsrpt"; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary)
	fmt.Fprintf(&b, "This is an aggregate TLS report (RFC 8460) from %s about mail delivered to %s\r\nbetween %s and %s.\r\n\r\n",
		o.Submitter, domain, begin.Format(time.RFC3339), end.Format(time.RFC3339))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n", boundary)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n", name)
	enc := base64.StdEncoding.EncodeToString(gz.Bytes())
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return Mail{Report: r, Filename: name, Content: b.Bytes()}, nil
}
