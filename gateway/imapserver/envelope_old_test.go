package imapserver

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// oldParseEnvelope builds the envelope of a raw header section the way FETCH always has.
func oldParseEnvelope(rawHeader []byte) envelope {
	th, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(rawHeader)))
	env := envelope{routes: map[string]string{}}
	env.Envelope = oldEnvelopeOf(th, env.routes)
	return env
}

// oldPartEnvelope is the ENVELOPE of the message inside a message/rfc822 part, from its header
// section (which lacks the empty line when the part ends inside its header).
func oldPartEnvelope(rawHeader []byte) *imap.Envelope {
	th, _ := textproto.ReadHeader(bufio.NewReader(io.MultiReader(bytes.NewReader(rawHeader), strings.NewReader("\r\n"))))
	return oldEnvelopeOf(th, nil)
}

// oldEnvelopeOf builds the ENVELOPE of a header (RFC 9051 §7.5.2). Address groups (RFC 5322
// §3.4) are kept as the group start and end markers the ENVELOPE grammar has for them.
// The source routes of its addresses go to routes when it is not nil.
func oldEnvelopeOf(h textproto.Header, routes map[string]string) *imap.Envelope {
	mh := mail.Header{Header: gomessage.Header{Header: h}}
	date, _ := mh.Date()
	subject, _ := mh.Subject()
	inReplyTo, _ := mh.MsgIDList("In-Reply-To")
	messageID, _ := mh.MessageID()
	return &imap.Envelope{
		Date:      date,
		Subject:   subject,
		From:      oldEnvelopeAddresses(mh, "From", routes),
		Sender:    oldEnvelopeAddresses(mh, "Sender", routes),
		ReplyTo:   oldEnvelopeAddresses(mh, "Reply-To", routes),
		To:        oldEnvelopeAddresses(mh, "To", routes),
		Cc:        oldEnvelopeAddresses(mh, "Cc", routes),
		Bcc:       oldEnvelopeAddresses(mh, "Bcc", routes),
		InReplyTo: inReplyTo,
		MessageID: messageID,
	}
}

// oldEnvelopeAddresses parses an address list field. Without groups it is what mail.Header
// parses; a group becomes its start marker (the name as Mailbox), its members and an end
// marker.
func oldEnvelopeAddresses(mh mail.Header, k string, routes map[string]string) []imap.Address {
	v := mh.Get(k)
	if strings.Contains(v, "<") && strings.Contains(v, "@") {
		v = stripRoutes(v, routes)
	}
	items := splitTopLevel(v)
	grouped := false
	for _, it := range items {
		grouped = grouped || it.group
	}
	if !grouped {
		if v == "" {
			return nil
		}
		return oldAddresses(mail.ParseAddressList(v))
	}
	var out []imap.Address
	for _, it := range items {
		if !it.group {
			out = append(out, oldAddresses(mail.ParseAddressList(it.text))...)
			continue
		}
		name := strings.TrimSpace(withoutComments(it.name))
		if dec, err := (&mime.WordDecoder{}).DecodeHeader(name); err == nil {
			name = dec
		}
		name = strings.Trim(name, `"`)
		out = append(out, imap.Address{Mailbox: name})
		if strings.TrimSpace(withoutComments(it.text)) != "" {
			out = append(out, oldAddresses(mail.ParseAddressList(it.text))...)
		}
		out = append(out, imap.Address{})
	}
	return out
}

func oldAddresses(list []*mail.Address, err error) []imap.Address {
	var l []imap.Address
	for _, a := range list {
		mailbox, host, ok := strings.Cut(a.Address, "@")
		if !ok {
			continue
		}
		l = append(l, imap.Address{Name: a.Name, Mailbox: mailbox, Host: host})
	}
	return l
}

// OldEnvelopeWire is the go-message builder's ENVELOPE of a header section and of a part's.
func OldEnvelopeWire(raw []byte) (whole, part []byte) {
	return appendEnvelope(nil, oldParseEnvelope(raw)), appendEnvelope(nil, envelope{Envelope: oldPartEnvelope(raw)})
}
