package usermsg

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// Draft is a message to build.
type Draft struct {
	From        string   // the sender's address (the user's own)
	To, Cc      []string // addresses, each "addr" or "Name <addr>"
	Bcc         []string // envelope recipients only, never in the header
	Subject     string
	Text        string
	InReplyTo   string   // Message-ID of the message replied to
	References  []string // its References plus its Message-ID
	Attachments []Attachment
	Date        time.Time // zero: now
	Hostname    string    // right side of the Message-ID; "" is "localhost"
}

// ErrNoRecipients is a draft without any recipient.
var ErrNoRecipients = errors.New("no recipients: give at least one To, Cc or Bcc address")

// ParseAddressList splits a comma-separated list typed by a user; empty items are skipped.
func ParseAddressList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	list, err := (&mail.AddressParser{}).ParseList(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a list of addresses: %v", s, err)
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.Address)
	}
	return out, nil
}

// Recipients are the envelope recipients of d: To, Cc and Bcc, de-duplicated
// case-insensitively.
func (d Draft) Recipients() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range slices.Concat(d.To, d.Cc, d.Bcc) {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address", s)
		}
		if k := strings.ToLower(a.Address); !seen[k] {
			seen[k] = true
			out = append(out, a.Address)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoRecipients
	}
	return out, nil
}

func formatList(list []string) (string, error) {
	var parts []string
	for _, s := range list {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return "", fmt.Errorf("%q is not an address", s)
		}
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", "), nil
}

// Build returns the message as RFC 5322 bytes with CRLF line ends: a text/plain part, and
// with attachments a multipart/mixed around it.
func (d Draft) Build() ([]byte, error) {
	if _, err := d.Recipients(); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(d.From)
	if err != nil {
		return nil, fmt.Errorf("from: %q is not an address", d.From)
	}
	date := d.Date
	if date.IsZero() {
		date = time.Now()
	}
	host := d.Hostname
	if host == "" {
		host = "localhost"
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	if len(d.To) > 0 {
		to, err := formatList(d.To)
		if err != nil {
			return nil, err
		}
		hdr("To", to)
	}
	if len(d.Cc) > 0 {
		cc, err := formatList(d.Cc)
		if err != nil {
			return nil, err
		}
		hdr("Cc", cc)
	}
	if len(d.To) == 0 && len(d.Cc) == 0 {
		hdr("To", "undisclosed-recipients:;")
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(d.Subject)))
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomHex(16)+"@"+host+">")
	if d.InReplyTo != "" {
		hdr("In-Reply-To", oneLine(d.InReplyTo))
	}
	if len(d.References) > 0 {
		hdr("References", oneLine(strings.Join(d.References, " ")))
	}
	hdr("MIME-Version", "1.0")
	text := normalizeNewlines(d.Text)
	if len(d.Attachments) == 0 {
		hdr("Content-Type", "text/plain; charset=utf-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, text)
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	hdr("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return nil, err
	}
	var tb bytes.Buffer
	writeQP(&tb, text)
	pw.Write(tb.Bytes())
	for _, a := range d.Attachments {
		ct := a.ContentType
		if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
			ct = "application/octet-stream"
		}
		name := SafeFilename(a.Filename)
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(ct, map[string]string{"name": name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			pw.Write([]byte(enc[:76] + "\r\n"))
			enc = enc[76:]
		}
		pw.Write([]byte(enc + "\r\n"))
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeQP(b *bytes.Buffer, text string) {
	qp := quotedprintable.NewWriter(b)
	qp.Write([]byte(text))
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// prefixed adds prefix ("Re:", "Fwd:") unless the subject already starts with it.
func prefixed(prefix, subject string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(subject)), strings.ToLower(prefix)) {
		return subject
	}
	return prefix + " " + subject
}

// Reply drafts a reply to m from self; with all, to every other recipient too.
func Reply(m *Message, self string, all bool) Draft {
	to := m.ReplyTo
	if len(to) == 0 {
		to = m.From
	}
	d := Draft{From: self, Subject: prefixed("Re:", m.Subject), InReplyTo: m.MessageID}
	seen := map[string]bool{strings.ToLower(self): true}
	add := func(list *[]string, as []Address) {
		for _, a := range as {
			k := strings.ToLower(a.Address)
			if a.Address == "" || seen[k] {
				continue
			}
			seen[k] = true
			*list = append(*list, (&mail.Address{Name: a.Name, Address: a.Address}).String())
		}
	}
	add(&d.To, to)
	if all {
		add(&d.Cc, m.To)
		add(&d.Cc, m.Cc)
	}
	if len(d.To) == 0 && len(to) > 0 { // replying to one's own message
		d.To = []string{to[0].Address}
	}
	d.References = append(append([]string(nil), m.References...), m.MessageID)
	if m.MessageID == "" {
		d.References = m.References
	}
	var q strings.Builder
	fmt.Fprintf(&q, "\n\nOn %s, %s wrote:\n", m.Date.Format("Mon, 2 Jan 2006 15:04"), first(m.From).String())
	for _, line := range strings.Split(strings.TrimRight(normalizeNewlinesLF(m.Text), "\n"), "\n") {
		q.WriteString("> " + line + "\n")
	}
	d.Text = q.String()
	return d
}

// Forward drafts a forward of m from self, with m's attachments.
func Forward(m *Message, self string) Draft {
	d := Draft{From: self, Subject: prefixed("Fwd:", m.Subject), Attachments: m.Attachments}
	var b strings.Builder
	b.WriteString("\n\n---------- Forwarded message ----------\n")
	fmt.Fprintf(&b, "From: %s\nDate: %s\nSubject: %s\n", joinAddrs(m.From), m.Date.Format(time.RFC1123Z), m.Subject)
	if len(m.To) > 0 {
		fmt.Fprintf(&b, "To: %s\n", joinAddrs(m.To))
	}
	b.WriteString("\n" + normalizeNewlinesLF(m.Text))
	d.Text = b.String()
	return d
}

func normalizeNewlinesLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

func first(as []Address) Address {
	if len(as) == 0 {
		return Address{Address: "unknown sender"}
	}
	return as[0]
}

func joinAddrs(as []Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}
