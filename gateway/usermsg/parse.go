package usermsg

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// MaxText is the most of a part's text Parse keeps for display; the rest is cut. MIME
// nesting is followed to mimelimit.MaxDepth.
const MaxText = 4 << 20

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
	h := mimeutil.ParseEntity(raw).Header
	return Header{
		From:        addresses(h, "From"),
		To:          addresses(h, "To"),
		Subject:     mimeutil.DecodeWords(h.Get("Subject")),
		Date:        date(h),
		Security:    ParseSecurity(h.Get(SecurityHeader)),
		AuthResults: h.Values("Authentication-Results"),
	}
}

func date(h mimeutil.Header) time.Time {
	t, _ := mail.ParseDate(h.Get("Date"))
	return t
}

func addresses(h mimeutil.Header, key string) []Address {
	v := h.Get(key)
	list, err := mimeutil.ParseAddressList(v)
	if err != nil {
		// Not parsable as a list: keep the raw text so the user still sees something.
		if v := strings.TrimSpace(v); v != "" {
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
// A part that cannot be read whole (a multipart without parts, text in an unknown charset)
// is shown as far as it can be, and the first such fault is returned with the message.
func Parse(r io.Reader) (*Message, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	ent := mimeutil.ParseEntity(raw)
	hd := ParseHeader(ent.RawHeader)
	m := &Message{
		From:        hd.From,
		To:          hd.To,
		Cc:          addresses(ent.Header, "Cc"),
		ReplyTo:     addresses(ent.Header, "Reply-To"),
		Subject:     hd.Subject,
		Date:        hd.Date,
		MessageID:   ent.Header.Get("Message-Id"),
		References:  strings.Fields(ent.Header.Get("References")),
		Security:    hd.Security,
		AuthResults: hd.AuthResults,
	}
	if errors.Is(mimelimit.Check(bytes.NewReader(raw)), mimelimit.ErrExceeded) {
		m.Attachments = []Attachment{{Filename: "message.bin", ContentType: "application/octet-stream", Data: ent.Body}}
		return m, nil
	}
	var w walker
	w.walk(m, ent)
	return m, w.err
}

// walker keeps the first fault met while walking a message.
type walker struct {
	err error
}

func (w *walker) fault(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *walker) walk(m *Message, e *mimeutil.Entity) {
	t := e.MediaType
	if t == "multipart/encrypted" || t == "application/pkcs7-mime" || t == "application/x-pkcs7-mime" {
		m.Encrypted = true
	}
	if strings.HasPrefix(t, "multipart/") && t != "multipart/encrypted" {
		parts, err := e.Parts()
		if err != nil {
			w.fault(err)
		}
		for _, p := range parts {
			w.walk(m, p)
		}
		return
	}
	switch t {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return // the gateway already checked it; see Security
	}
	data, err := e.Text()
	if err != nil && !errors.Is(err, mimeutil.ErrUnknownCharset) { // such text is shown as it is
		w.fault(err)
	}
	disp, dparams := e.Header.ContentDisposition()
	if disp != "attachment" && (t == "text/plain" && m.Text == "" || t == "text/html" && m.HTML == "") {
		data = data[:min(len(data), MaxText)]
		if t == "text/plain" {
			m.Text = string(data)
		} else {
			m.HTML = string(data)
		}
		return
	}
	name := dparams["filename"]
	if name == "" {
		name = mimeutil.DecodeWords(e.Params["name"])
	}
	if name == "" {
		name = "attachment" + extension(t)
	}
	m.Attachments = append(m.Attachments, Attachment{Index: len(m.Attachments), Filename: SafeFilename(name), ContentType: t, Data: data})
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
