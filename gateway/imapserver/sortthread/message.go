package sortthread

import (
	"errors"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// ErrSyntax is wrapped by every parse error of this package: a SORT criteria list, a THREAD
// algorithm, a RETURN option or a PARTIAL range the client got wrong (a tagged BAD).
var ErrSyntax = errors.New("sortthread: syntax error")

// Bounds on what one message contributes; see the package doc.
const (
	// MaxSubjectBytes is how much of a decoded, whitespace-normalised subject is looked at.
	MaxSubjectBytes = 1024
	// MaxKeyBytes is how much of an address sort key is compared.
	MaxKeyBytes = 256
	// MaxReferences is how many message IDs a message's References contribute: the first
	// one and the last MaxReferences-1.
	MaxReferences = 64
	// MaxThreadDepth is how many ancestors the loop check of THREAD REFERENCES walks.
	MaxThreadDepth = 1000
	// MaxDummiesPerMessage bounds the message IDs THREAD REFERENCES keeps that no message
	// in the set has: this many per message, plus minDummies.
	MaxDummiesPerMessage = 16
	minDummies           = 1 << 16
	// maxRawSubject bounds the RFC 2047 decoding work on a subject.
	maxRawSubject = 16 * 1024
)

// Message is what SORT and THREAD know about one message. See the package doc for who
// fills which field.
type Message struct {
	Seq          uint32
	UID          uint32
	InternalDate time.Time
	// Date is the Date header; zero when it is missing or cannot be parsed.
	Date time.Time
	// Size is RFC822.SIZE.
	Size int64
	// Subject is the raw Subject header value.
	Subject string
	// From, To and Cc are the first address of each header.
	From, To, Cc Address
	// MessageID, InReplyTo and References are the raw header values.
	MessageID, InReplyTo, References string
}

// SentDate is the date SORT DATE and THREAD order by: the Date header, else the internal
// date (RFC 5256 section 2.2).
func (m *Message) SentDate() time.Time {
	if m.Date.IsZero() {
		return m.InternalDate
	}
	return m.Date
}

// NumKind says which number identifies a message on the wire.
type NumKind int

const (
	// NumSeq is the message sequence number (SORT, THREAD).
	NumSeq NumKind = iota
	// NumUID is the UID (UID SORT, UID THREAD).
	NumUID
)

// Of returns m's number of this kind.
func (k NumKind) Of(m *Message) uint32 {
	if k == NumUID {
		return m.UID
	}
	return m.Seq
}

// ParseHeader fills the header-derived fields of m (Date, Subject, From, To, Cc, MessageID,
// InReplyTo, References) from a raw header section, CRLF or LF, up to its first empty line.
// The first occurrence of a field counts. It never fails: what cannot be parsed is left
// empty.
func (m *Message) ParseHeader(raw []byte) {
	var seen [len(headerFields)]bool
	mimeutil.ScanFields(raw, func(name, raw []byte) {
		i := fieldIndex(name)
		if i < 0 || seen[i] {
			return
		}
		seen[i] = true
		value := string(raw)
		switch i {
		case 0:
			if t, ok := parseDate(value); ok {
				m.Date = t
			}
		case 1:
			m.Subject = value
		case 2:
			m.From = FirstAddress(value)
		case 3:
			m.To = FirstAddress(value)
		case 4:
			m.Cc = FirstAddress(value)
		case 5:
			m.MessageID = value
		case 6:
			m.InReplyTo = value
		case 7:
			m.References = value
		}
	})
}

var headerFields = [...]string{"date", "subject", "from", "to", "cc", "message-id", "in-reply-to", "references"}

func fieldIndex(name []byte) int {
	for i, f := range headerFields {
		if len(name) == len(f) && strings.EqualFold(string(name), f) {
			return i
		}
	}
	return -1
}

// nextMsgID returns the first valid message ID in s and the text after it, with Dovecot's
// rules so that threads match: text outside angle brackets is skipped ("In-Reply-To: your
// message of ... <id@host>"); between them, an ID is valid when it has an "@", and its
// whitespace is dropped; an ID holding a quoted string or a comment is read as
// [CFWS] (quoted-string / dot-atom) "@" [CFWS] (dot-atom / domain-literal) ">". The ID is
// returned without its angle brackets.
func nextMsgID(s string) (id, rest string) {
	for {
		open := strings.IndexByte(s, '<')
		if open < 0 {
			return "", ""
		}
		s = s[open+1:]
		end := strings.IndexAny(s, ">\"([")
		if end < 0 {
			return "", ""
		}
		if s[end] == '>' {
			cand := s[:end]
			rest = s[end+1:]
			if strings.IndexByte(cand, '@') >= 0 {
				if strings.ContainsAny(cand, " \t\r\n") {
					cand = strings.Join(strings.Fields(cand), "")
				}
				return cand, rest
			}
			s = rest
			continue
		}
		if id, rest, ok := structuredMsgID(s); ok {
			return id, rest
		}
	}
}

// structuredMsgID reads "local@domain>" where the local part may be quoted and comments
// may appear around the parts.
func structuredMsgID(s string) (id, rest string, ok bool) {
	p := dateParser{scanner{s: s}}
	p.skipCFWS()
	var local string
	if p.i < len(p.s) && p.s[p.i] == '"' {
		local = p.quoted()
		p.skipCFWS()
	} else if local = p.dotAtom(); local == "" {
		return "", "", false
	}
	if !p.consume('@') {
		return "", "", false
	}
	var domain string
	if p.i < len(p.s) && p.s[p.i] == '[' {
		end := strings.IndexByte(p.s[p.i:], ']')
		if end < 0 {
			return "", "", false
		}
		domain = strings.Join(strings.Fields(p.s[p.i:p.i+end+1]), "")
		p.i += end + 1
		p.skipCFWS()
	} else {
		domain = p.dotAtom()
	}
	if domain == "" || p.i >= len(p.s) || p.s[p.i] != '>' {
		return "", "", false
	}
	return local + "@" + domain, p.s[p.i+1:], true
}

// messageID returns the message's own ID, or "" when it has none that is valid.
func (m *Message) messageID() string {
	id, _ := nextMsgID(m.MessageID)
	return id
}

// references returns the IDs a message refers to, oldest first (RFC 5256 REFERENCES step
// 1): those of References when it has any, else the first of In-Reply-To. At most
// MaxReferences are kept: the first and the last ones.
func (m *Message) references(buf []string) []string {
	refs := buf[:0]
	s := m.References
	for {
		var id string
		id, s = nextMsgID(s)
		if id == "" {
			break
		}
		if len(refs) == MaxReferences {
			// Keep refs[0], shift the rest: the window holds the first ID and the
			// newest MaxReferences-1.
			copy(refs[1:], refs[2:])
			refs = refs[:MaxReferences-1]
		}
		refs = append(refs, id)
	}
	if len(refs) == 0 {
		if id, _ := nextMsgID(m.InReplyTo); id != "" {
			refs = append(refs, id)
		}
	}
	return refs
}
