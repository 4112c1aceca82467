package usermsg

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"path"
	"strings"
	"time"
	"unicode"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// Limits of Parse: a part's text beyond MaxText is cut, and MIME nesting beyond maxDepth is
// not followed.
const (
	MaxText  = 4 << 20
	maxDepth = 20
)

// Address is a mailbox from a header.
type Address struct {
	Name    string
	Address string
}

// String is the address as it would be written in a header, decoded.
func (a Address) String() string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// Display is the name, or the address when there is none.
func (a Address) Display() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Address
}

// Attachment is a part shown as a download. Index counts attachments from 0 in message order.
type Attachment struct {
	Index       int
	Filename    string // safe for a file system: see SafeFilename
	ContentType string
	Data        []byte
}

// Message is a parsed message for display.
type Message struct {
	From, To, Cc, ReplyTo []Address
	Subject               string
	Date                  time.Time
	MessageID             string
	References            []string
	Security              Security
	AuthResults           []string // bodies of the Authentication-Results fields (ReadSenderCheck)
	Text                  string   // the first text/plain part that is not an attachment
	HTML                  string   // the first text/html part that is not an attachment (unsanitized!)
	Attachments           []Attachment
	// Encrypted says the stored body is still encrypted (the gateway did not decrypt it).
	Encrypted bool
}

// Header is the parsed header section only, for listings.
type Header struct {
	From     []Address
	To       []Address
	Subject  string
	Date     time.Time
	Security Security
	// AuthResults are the bodies of the Authentication-Results fields (ReadSenderCheck).
	AuthResults []string
}

// ParseHeader reads a header section (the rest of the message may follow).
func ParseHeader(raw []byte) Header {
	br := bufio.NewReader(bytes.NewReader(raw))
	h, err := gomessage.Read(br)
	if err != nil && h == nil {
		return Header{}
	}
	mh := gomail.Header{Header: h.Header}
	out := Header{Security: ParseSecurity(h.Header.Get(SecurityHeader)), AuthResults: h.Header.Values("Authentication-Results")}
	out.From = addresses(mh, "From")
	out.To = addresses(mh, "To")
	out.Subject = subject(mh)
	out.Date, _ = mh.Date()
	return out
}

func subject(mh gomail.Header) string {
	s, err := mh.Subject()
	if err != nil {
		s = mh.Get("Subject")
	}
	return s
}

func addresses(mh gomail.Header, key string) []Address {
	list, err := mh.AddressList(key)
	if err != nil {
		// Not parsable as a list: keep the raw text so the user still sees something.
		if v := strings.TrimSpace(mh.Get(key)); v != "" {
			return []Address{{Name: v}}
		}
		return nil
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, Address{Name: a.Name, Address: a.Address})
	}
	return out
}

// Parse reads a whole message. A message whose MIME structure is beyond mimelimit's bounds
// is not walked: its body is one attachment (application/octet-stream) and it has no text.
func Parse(r io.Reader) (*Message, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	flat := errors.Is(mimelimit.Check(bytes.NewReader(raw)), mimelimit.ErrExceeded)
	ent, err := gomessage.Read(bufio.NewReader(bytes.NewReader(raw)))
	if ent == nil {
		return nil, err
	}
	mh := gomail.Header{Header: ent.Header}
	m := &Message{
		From:     addresses(mh, "From"),
		To:       addresses(mh, "To"),
		Cc:       addresses(mh, "Cc"),
		ReplyTo:  addresses(mh, "Reply-To"),
		Subject:  subject(mh),
		Security: ParseSecurity(ent.Header.Get(SecurityHeader)),

		AuthResults: ent.Header.Values("Authentication-Results"),
	}
	m.Date, _ = mh.Date()
	m.MessageID = strings.TrimSpace(ent.Header.Get("Message-Id"))
	m.References = strings.Fields(ent.Header.Get("References"))
	if flat {
		_, body := mimeutil.SplitHeader(raw)
		m.Attachments = []Attachment{{Filename: "message.bin", ContentType: "application/octet-stream", Data: body}}
		return m, nil
	}
	if err := m.walk(ent, 0); err != nil {
		return m, err
	}
	return m, nil
}

func tolerable(err error) bool {
	return err == nil || gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err)
}

func (m *Message) walk(e *gomessage.Entity, depth int) error {
	if depth > maxDepth {
		return nil
	}
	t, params, _ := e.Header.ContentType()
	t = strings.ToLower(t)
	if t == "" {
		t = "text/plain"
	}
	if t == "multipart/encrypted" || t == "application/pkcs7-mime" || t == "application/x-pkcs7-mime" {
		m.Encrypted = true
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	if mr := e.MultipartReader(); mr != nil && t != "multipart/encrypted" {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if !tolerable(err) {
				return err
			}
			if err := m.walk(p, depth+1); err != nil {
				return err
			}
		}
	}
	switch t {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		io.Copy(io.Discard, e.Body) // the gateway already checked it; see Security
		return nil
	}
	attachment := strings.EqualFold(disp, "attachment")
	if !attachment && (t == "text/plain" && m.Text == "" || t == "text/html" && m.HTML == "") {
		data, err := io.ReadAll(io.LimitReader(e.Body, MaxText))
		if err != nil {
			return err
		}
		if t == "text/plain" {
			m.Text = string(data)
		} else {
			m.HTML = string(data)
		}
		return nil
	}
	data, err := io.ReadAll(e.Body)
	if err != nil {
		return err
	}
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if name == "" {
		name = "attachment" + extension(t)
	}
	m.Attachments = append(m.Attachments, Attachment{Index: len(m.Attachments), Filename: SafeFilename(name), ContentType: t, Data: data})
	return nil
}

func extension(t string) string {
	switch t {
	case "message/rfc822":
		return ".eml"
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	case "application/pgp-encrypted", "application/octet-stream":
		return ".asc"
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return ".p7m"
	}
	if exts, _ := mime.ExtensionsByType(t); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}

// SafeFilename keeps a sender-chosen file name from naming a path or hiding its type: only the
// last path element, no control or format characters (such as right-to-left overrides), no
// leading dots, at most 128 runes.
func SafeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '/', r == '"', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|':
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	if rs := []rune(name); len(rs) > 128 {
		name = string(rs[len(rs)-128:])
	}
	if name == "" {
		return "attachment.bin"
	}
	return name
}
