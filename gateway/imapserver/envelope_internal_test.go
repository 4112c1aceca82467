package imapserver

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// encodeEnvelope writes the compact form earlier versions stored.
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

// TestStoredEnvelopeOldForm: an envelope stored in the earlier compact form goes on the wire
// as one parsed now does (source routes aside, which that form never held).
func TestStoredEnvelopeOldForm(t *testing.T) {
	h := []byte("From: Ann <ann@example.org>\r\nTo: a@example.org, grp: b@example.org;\r\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Tue, 14 Mar 2023 09:26:53 +0530\r\nMessage-ID: <m@example.org>\r\n\r\n")
	env := parseEnvelope(h)
	var d envelopeDecoder
	if got, want := d.wire(encodeEnvelope(env.Envelope)), EncodeEnvelope(h); !bytes.Equal(got, want) {
		t.Fatalf("old form:\n%s\nwant\n%s", got, want)
	}
	if got := d.wire([]byte{9, 1, 2}); got != nil {
		t.Fatalf("malformed: %q", got)
	}
}

// TestEnvelopeSourceRoute: an obsolete source route reaches ENVELOPE's adl field.
func TestEnvelopeSourceRoute(t *testing.T) {
	got := string(EncodeEnvelope([]byte("From: <@route:user@domain>\r\nTo: X <@a,@b:x@example.org>\r\n\r\n")))
	want := `(NIL NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) (("X" "@a,@b" "x" "example.org")) NIL NIL NIL NIL)`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
