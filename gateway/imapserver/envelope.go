package imapserver

import (
	"encoding/binary"
	"errors"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// ENVELOPE is parsed from a message's header once, when the search indexer reads the
// message, and kept in the store as it goes on the wire (starting with "("); FETCH ENVELOPE
// writes those bytes as they are instead of parsing the header again, so the bytes on the
// wire are the same either way (TestEnvelopeUnchanged). Envelopes stored by earlier
// versions are in the compact form below, which FETCH decodes and writes:
//
//	version byte (1)
//	date: uvarint 0 (none) or 1, then varint Unix seconds, varint zone offset in seconds
//	subject: string
//	From, Sender, Reply-To, To, Cc, Bcc: uvarint count, then name, mailbox, host strings
//	In-Reply-To: uvarint count, then strings
//	Message-ID: string
//
// A string is a uvarint length and the bytes. An empty list decodes to nil, as the parser
// returns it (ENVELOPE tells a nil Sender or Reply-To apart and writes From instead).
const envelopeVersion = 1

var errBadEnvelope = errors.New("imapserver: malformed stored envelope")

// envelope is an ENVELOPE with the source routes of its addresses (obsolete syntax,
// RFC 5322 §4.4, "<@relay:user@example.org>"), for which imap.Address has no field.
type envelope struct {
	*imap.Envelope
	routes map[string]string // "mailbox@host" in lower case → "@relay,@relay2"
}

// route returns the source route of an address, "" for none.
func (e envelope) route(a imap.Address) string {
	if len(e.routes) == 0 {
		return ""
	}
	return e.routes[strings.ToLower(a.Mailbox+"@"+a.Host)]
}

// parseEnvelope builds the envelope of a raw header section the way FETCH always has.
func parseEnvelope(rawHeader []byte) envelope {
	env := envelope{routes: map[string]string{}}
	env.Envelope = envelopeOf(readEnvelopeFields(rawHeader), env.routes)
	return env
}

// partEnvelope is the ENVELOPE of the message inside a message/rfc822 part, from its header
// section (which may lack the empty line when the part ends inside its header).
func partEnvelope(rawHeader []byte) *imap.Envelope {
	return envelopeOf(readEnvelopeFields(rawHeader), nil)
}

// EncodeEnvelope returns the stored ENVELOPE of a raw header section (mailindex.Options.Envelope):
// the ENVELOPE as it goes on the wire, which FETCH sends as it is.
func EncodeEnvelope(rawHeader []byte) []byte { return appendEnvelope(nil, parseEnvelope(rawHeader)) }

// wire returns a stored envelope as it goes on the wire: as it is, or built from the
// compact form older versions stored. Nil for a malformed one.
func (d *envelopeDecoder) wire(data []byte) []byte {
	if len(data) > 0 && data[0] == '(' {
		return data
	}
	e, err := d.decode(data)
	if err != nil {
		return nil
	}
	return appendEnvelope(nil, envelope{Envelope: e})
}

// envelopeDecoder reads stored envelopes; its zones are shared between them.
type envelopeDecoder struct {
	zones map[int]*time.Location
}

func (d *envelopeDecoder) decode(data []byte) (*imap.Envelope, error) {
	if len(data) == 0 || data[0] != envelopeVersion {
		return nil, errBadEnvelope
	}
	s := string(data) // one allocation; every string of the envelope points into it
	pos := 1
	bad := false
	// step moves past a varint of n bytes; n <= 0 is a malformed one, whose value the
	// binary package gives as 0.
	step := func(n int) {
		if n <= 0 {
			bad, n = true, 0
		}
		pos += n
	}
	uv := func() uint64 { v, n := binary.Uvarint(data[pos:]); step(n); return v }
	sv := func() int64 { v, n := binary.Varint(data[pos:]); step(n); return v }
	str := func() string {
		n := uv()
		if bad || n > uint64(len(data)-pos) {
			bad = true
			return ""
		}
		out := s[pos : pos+int(n)]
		pos += int(n)
		return out
	}
	e := &imap.Envelope{}
	if uv() == 1 {
		sec, off := sv(), int(sv())
		if d.zones == nil {
			d.zones = map[int]*time.Location{}
		}
		loc := d.zones[off]
		if loc == nil {
			loc = time.FixedZone("", off)
			d.zones[off] = loc
		}
		e.Date = time.Unix(sec, 0).In(loc)
	}
	e.Subject = str()
	for _, l := range []*[]imap.Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc} {
		n := uv()
		if bad || n > uint64(len(data)) {
			return nil, errBadEnvelope
		}
		if n == 0 {
			continue
		}
		*l = make([]imap.Address, n)
		for i := range *l {
			(*l)[i] = imap.Address{Name: str(), Mailbox: str(), Host: str()}
		}
	}
	if n := uv(); n > 0 && !bad && n <= uint64(len(data)) {
		e.InReplyTo = make([]string, n)
		for i := range e.InReplyTo {
			e.InReplyTo[i] = str()
		}
	}
	e.MessageID = str()
	if bad {
		return nil, errBadEnvelope
	}
	return e, nil
}

// envelopeOf builds the ENVELOPE of a header (RFC 9051 §7.5.2). Address groups (RFC 5322
// §3.4) are kept as the group start and end markers the ENVELOPE grammar has for them.
// The source routes of its addresses go to routes when it is not nil. What does not parse
// is left out: a Date that does not parse is no date, a Message-ID or In-Reply-To keeps the
// identifiers before the first malformed one, an address list the addresses before it.
func envelopeOf(f envelopeFields, routes map[string]string) *imap.Envelope {
	var date time.Time
	if v := f[fieldDate]; v != "" {
		date, _ = mail.ParseDate(v)
	}
	inReplyTo, _ := mimeutil.MsgIDList(f[fieldInReplyTo])
	messageID, _ := mimeutil.MsgID(f[fieldMessageID])
	return &imap.Envelope{
		Date:      date,
		Subject:   decodeEnvelopeWords(f[fieldSubject]),
		From:      envelopeAddresses(f[fieldFrom], routes),
		Sender:    envelopeAddresses(f[fieldSender], routes),
		ReplyTo:   envelopeAddresses(f[fieldReplyTo], routes),
		To:        envelopeAddresses(f[fieldTo], routes),
		Cc:        envelopeAddresses(f[fieldCc], routes),
		Bcc:       envelopeAddresses(f[fieldBcc], routes),
		InReplyTo: inReplyTo,
		MessageID: messageID,
	}
}

// envelopeWords decodes the encoded words (RFC 2047) of ENVELOPE's subject and display
// names. It knows UTF-8, US-ASCII and ISO-8859-1 only: a word in another charset stays
// encoded on the wire, for the client to decode, as in every envelope stored so far.
func envelopeWords() *mime.WordDecoder { return &mime.WordDecoder{} }

// decodeEnvelopeWords decodes the subject; one word in an unknown charset leaves it as it is.
func decodeEnvelopeWords(v string) string {
	if dec, err := envelopeWords().DecodeHeader(v); err == nil {
		return dec
	}
	return v
}

// envelopeAddresses parses an address list field. Without groups it is what net/mail
// parses; a group becomes its start marker (the name as Mailbox), its members and an end
// marker.
func envelopeAddresses(v string, routes map[string]string) []imap.Address {
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
		return addresses(v)
	}
	var out []imap.Address
	for _, it := range items {
		if !it.group {
			out = append(out, addresses(it.text)...)
			continue
		}
		name := strings.TrimSpace(mimeutil.WithoutComments(it.name))
		if dec, err := envelopeWords().DecodeHeader(name); err == nil {
			name = dec
		}
		name = strings.Trim(name, `"`)
		out = append(out, imap.Address{Mailbox: name})
		if strings.TrimSpace(mimeutil.WithoutComments(it.text)) != "" {
			out = append(out, addresses(it.text)...)
		}
		out = append(out, imap.Address{})
	}
	return out
}

// addresses parses a list without groups; a list that does not parse gives none.
func addresses(v string) []imap.Address {
	p := mail.AddressParser{WordDecoder: envelopeWords()}
	list, _ := p.ParseList(v)
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

// addrItem is one top-level item of an address list: a run of plain addresses, or a group
// with its name and members.
type addrItem struct {
	group      bool
	name, text string
}

// splitTopLevel splits an address list at the ':' and ';' of groups, outside quoted
// strings, comments, angle brackets and domain literals.
func splitTopLevel(v string) []addrItem {
	var items []addrItem
	var cur strings.Builder
	inQuote, inAngle, inLit := false, false, false
	comment := 0
	var group *addrItem
	flushPlain := func() {
		if s := strings.Trim(cur.String(), " \t,"); s != "" {
			items = append(items, addrItem{text: s})
		}
		cur.Reset()
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			if c == '\\' && i+1 < len(v) {
				cur.WriteByte(c)
				i++
				c = v[i]
			} else if c == '"' {
				inQuote = false
			}
		case comment > 0:
			if c == '\\' && i+1 < len(v) {
				cur.WriteByte(c)
				i++
				c = v[i]
			} else if c == '(' {
				comment++
			} else if c == ')' {
				comment--
			}
		case inLit:
			inLit = c != ']'
		case c == '"':
			inQuote = true
		case c == '(':
			comment++
		case c == '[':
			inLit = true
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == ':' && !inAngle && group == nil:
			// The phrase since the last top-level ',' names a group.
			s := cur.String()
			start := strings.LastIndexByte(s, ',')
			cur.Reset()
			cur.WriteString(s[:start+1])
			flushPlain()
			group = &addrItem{group: true, name: s[start+1:]}
			continue
		case c == ';' && !inAngle && group != nil:
			group.text = cur.String()
			items = append(items, *group)
			group = nil
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if group != nil { // an unterminated group: its members as they are
		group.text = cur.String()
		items = append(items, *group)
		return items
	}
	flushPlain()
	return items
}

// routeAddr is an angle address with a source route: "<@a,@b:user@example.org>".
var routeAddr = regexp.MustCompile(`<\s*(@[^<>:"]*):\s*([^<>:]*)>`)

// stripRoutes removes the source routes of v's angle addresses, which the address parser
// does not take, and notes them in routes (when not nil) by address.
func stripRoutes(v string, routes map[string]string) string {
	return routeAddr.ReplaceAllStringFunc(v, func(m string) string {
		sm := routeAddr.FindStringSubmatch(m)
		addr := strings.TrimSpace(sm[2])
		if routes != nil {
			routes[strings.ToLower(addr)] = strings.TrimSpace(sm[1])
		}
		return "<" + addr + ">"
	})
}
