package imapserver

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// ENVELOPE is parsed from a message's header once, when the search indexer reads the
// message, and kept in the store in the compact form below; FETCH ENVELOPE decodes it
// instead of parsing the header again. The form holds exactly what imap.Envelope holds, so
// the bytes on the wire are the same either way (TestEnvelopeUnchanged).
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

// parseEnvelope builds the envelope of a raw header section the way FETCH always has.
func parseEnvelope(rawHeader []byte) *imap.Envelope {
	th, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(rawHeader)))
	return imapserver.ExtractEnvelope(th)
}

// EncodeEnvelope returns the stored ENVELOPE of a raw header section (mailindex.Options.Envelope).
func EncodeEnvelope(rawHeader []byte) []byte { return encodeEnvelope(parseEnvelope(rawHeader)) }

func encodeEnvelope(e *imap.Envelope) []byte {
	b := make([]byte, 0, 256)
	b = append(b, envelopeVersion)
	if e.Date.IsZero() {
		b = binary.AppendUvarint(b, 0)
	} else {
		_, off := e.Date.Zone()
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendVarint(b, e.Date.Unix())
		b = binary.AppendVarint(b, int64(off))
	}
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(e.Subject)
	for _, l := range [][]imap.Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, a := range l {
			str(a.Name)
			str(a.Mailbox)
			str(a.Host)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.InReplyTo)))
	for _, s := range e.InReplyTo {
		str(s)
	}
	str(e.MessageID)
	return b
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
	uv := func() uint64 {
		v, n := binary.Uvarint(data[pos:])
		if n <= 0 {
			bad = true
			return 0
		}
		pos += n
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(data[pos:])
		if n <= 0 {
			bad = true
			return 0
		}
		pos += n
		return v
	}
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
