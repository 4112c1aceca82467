package imapserver

import (
	"mime"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
)

// The response writers: every response goes through the session's imapwire.Encoder, which
// buffers; the engine flushes after each command (and IDLE after each update), so a
// command's responses leave in as few writes as their size allows.

// numKind tells whether a command names messages by sequence number or by UID.
type numKind int

const (
	numSeq numKind = iota
	numUID
)

// fetchResp writes one FETCH response: "* n FETCH (" data items ")".
type fetchResp struct {
	e     *imapwire.Encoder
	items int
}

func (s *session) fetchResp(seq uint32) fetchResp {
	s.enc.Untagged().Number(seq).Raw(" FETCH (")
	return fetchResp{e: s.enc}
}

// item starts a data item: its name and the space before its value.
func (r *fetchResp) item(name string) *imapwire.Encoder {
	if r.items > 0 {
		r.e.SP()
	}
	r.items++
	return r.e.Raw(name).SP()
}

// end closes the response.
func (r *fetchResp) end() error {
	r.e.Close().CRLF()
	return r.e.Err()
}

func writeFlags(e *imapwire.Encoder, flags []imap.Flag) {
	e.Open()
	for i, f := range flags {
		if i > 0 {
			e.SP()
		}
		e.Atom(string(f))
	}
	e.Close()
}

// dateTimeLayout is INTERNALDATE's date-time (RFC 9051 §9).
const dateTimeLayout = "02-Jan-2006 15:04:05 -0700"

// envelopeDateLayout is the Date an ENVELOPE carries (RFC 5322 §3.3).
const envelopeDateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// writeFlagsResp writes the messages' flags as an untagged FETCH (a STORE's answer or an
// update of another session's change); uid adds UID for UID commands (RFC 9051 §6.4.9).
// Once CONDSTORE is on, the message's MODSEQ goes with it (RFC 7162 §3.2); nil flags send
// MODSEQ alone (STORE .SILENT).
func (s *session) writeMessageFlags(seq, uid uint32, withUID bool, flags []imap.Flag, modseq uint64) error {
	r := s.fetchResp(seq)
	if withUID || s.qresync { // RFC 7162 §3.2.4: UID in every FETCH once QRESYNC is on
		r.item("UID").Number(uid)
	}
	if flags != nil {
		writeFlags(r.item("FLAGS"), flags)
	}
	if s.condstore && modseq != 0 {
		r.item("MODSEQ").Raw("(").Number64(modseq).Raw(")")
	}
	return r.end()
}

func (s *session) writeExpunge(seq uint32) error {
	s.enc.Untagged().Number(seq).Raw(" EXPUNGE").CRLF()
	return s.enc.Err()
}

func (s *session) writeExists(n uint32) error {
	s.enc.Untagged().Number(n).Raw(" EXISTS").CRLF()
	return s.enc.Err()
}

func (s *session) writeRecent(n uint32) error {
	s.enc.Untagged().Number(n).Raw(" RECENT").CRLF()
	return s.enc.Err()
}

// appendEnvelope writes an ENVELOPE (RFC 9051 §7.5.2) to b: the form the store keeps and
// FETCH sends as it is. Header text that is not ASCII is sent as encoded words, which every
// client reads.
func appendEnvelope(b []byte, env envelope) []byte {
	sender, replyTo := env.Sender, env.ReplyTo
	if sender == nil {
		sender = env.From
	}
	if replyTo == nil {
		replyTo = env.From
	}
	b = append(b, '(')
	if env.Date.IsZero() {
		b = append(b, "NIL"...)
	} else {
		b = appendString(b, env.Date.Format(envelopeDateLayout))
	}
	b = append(b, ' ')
	b = appendNString(b, mime.QEncoding.Encode("utf-8", env.Subject))
	for _, l := range [][]imap.Address{env.From, sender, replyTo, env.To, env.Cc, env.Bcc} {
		b = append(b, ' ')
		b = appendAddressList(b, env, l)
	}
	b = append(b, ' ')
	if len(env.InReplyTo) > 0 {
		b = appendString(b, "<"+strings.Join(env.InReplyTo, "> <")+">")
	} else {
		b = append(b, "NIL"...)
	}
	b = append(b, ' ')
	if env.MessageID != "" {
		b = appendString(b, "<"+env.MessageID+">")
	} else {
		b = append(b, "NIL"...)
	}
	return append(b, ')')
}

func appendAddressList(b []byte, env envelope, l []imap.Address) []byte {
	if len(l) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for _, a := range l {
		b = append(b, '(')
		b = appendNString(b, mime.QEncoding.Encode("utf-8", a.Name))
		b = append(b, ' ')
		b = appendNString(b, env.route(a))
		b = append(b, ' ')
		b = appendNString(b, a.Mailbox)
		b = append(b, ' ')
		b = appendNString(b, a.Host)
		b = append(b, ')')
	}
	return append(b, ')')
}

// appendNString appends s, or NIL for the empty string.
func appendNString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "NIL"...)
	}
	return appendString(b, s)
}

// appendString appends s quoted when it can be, else as a literal: the form every client
// reads whatever it ENABLEd, which a stored ENVELOPE needs.
func appendString(b []byte, s string) []byte {
	quoted := len(s) <= 1024
	for i := 0; i < len(s) && quoted; i++ {
		quoted = s[i] >= 0x20 && s[i] < 0x7f || s[i] == '\t'
	}
	if !quoted {
		b = append(b, '{')
		b = appendUint(b, uint64(len(s)))
		b = append(b, "}\r\n"...)
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func appendUint(b []byte, n uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// writeBodyStructure writes BODYSTRUCTURE (extended) or BODY (RFC 9051 §7.5.2).
func writeBodyStructure(e *imapwire.Encoder, bs imap.BodyStructure, extended bool) {
	e.Open()
	switch bs := bs.(type) {
	case *imap.BodyStructureSinglePart:
		writeSinglePart(e, bs, extended)
	case *imap.BodyStructureMultiPart:
		for _, c := range bs.Children {
			writeBodyStructure(e, c, extended) // no space between parts (body-type-mpart)
		}
		e.SP().String(bs.Subtype)
		if extended && bs.Extended != nil {
			e.SP()
			writeParams(e, bs.Extended.Params)
			e.SP()
			writeDisposition(e, bs.Extended.Disposition)
			e.SP()
			writeLanguages(e, bs.Extended.Language)
			e.SP()
			writeNString(e, bs.Extended.Location)
		}
	}
	e.Close()
}

func writeSinglePart(e *imapwire.Encoder, bs *imap.BodyStructureSinglePart, extended bool) {
	e.String(bs.Type).SP().String(bs.Subtype).SP()
	writeParams(e, bs.Params)
	e.SP()
	writeNString(e, bs.ID)
	e.SP()
	writeNString(e, bs.Description)
	e.SP()
	enc := "7bit"
	if bs.Encoding != "" {
		enc = strings.ToLower(bs.Encoding) // some clients (Outlook for iOS) want lower case
	}
	e.String(enc).SP().Number(bs.Size)
	if msg := bs.MessageRFC822; msg != nil {
		e.SP().Raw(string(appendEnvelope(nil, envelope{Envelope: msg.Envelope}))).SP()
		writeBodyStructure(e, msg.BodyStructure, extended)
		e.SP().Number64(uint64(msg.NumLines))
	} else if bs.Text != nil {
		e.SP().Number64(uint64(bs.Text.NumLines))
	}
	if !extended || bs.Extended == nil {
		return
	}
	e.SP().Nil().SP() // MD5
	writeDisposition(e, bs.Extended.Disposition)
	e.SP()
	writeLanguages(e, bs.Extended.Language)
	e.SP()
	writeNString(e, bs.Extended.Location)
}

func writeNString(e *imapwire.Encoder, s string) { e.NString(s, s != "") }

func writeParams(e *imapwire.Encoder, params map[string]string) {
	if len(params) == 0 {
		e.Nil()
		return
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.Open()
	for i, k := range keys {
		if i > 0 {
			e.SP()
		}
		e.String(k).SP().String(params[k])
	}
	e.Close()
}

func writeDisposition(e *imapwire.Encoder, d *imap.BodyStructureDisposition) {
	if d == nil {
		e.Nil()
		return
	}
	e.Open().String(d.Value).SP()
	writeParams(e, d.Params)
	e.Close()
}

func writeLanguages(e *imapwire.Encoder, l []string) {
	if len(l) == 0 {
		e.Nil()
		return
	}
	e.Open()
	for i, s := range l {
		if i > 0 {
			e.SP()
		}
		e.String(s)
	}
	e.Close()
}

// writeNumSet writes a sequence or UID set in its compact form.
func writeNumSet(e *imapwire.Encoder, set imap.NumSet) { e.Raw(set.String()) }

// writeStatus writes a STATUS response (RFC 9051 §7.2.4).
func (s *session) writeStatus(data *imap.StatusData) error {
	e := s.enc
	e.Untagged().Raw("STATUS ").Mailbox(data.Mailbox).SP().Open()
	n := 0
	item := func(name string) *imapwire.Encoder {
		if n > 0 {
			e.SP()
		}
		n++
		return e.Raw(name).SP()
	}
	if data.NumMessages != nil {
		item("MESSAGES").Number(*data.NumMessages)
	}
	if data.NumRecent != nil {
		item("RECENT").Number(*data.NumRecent)
	}
	if data.UIDNext != 0 {
		item("UIDNEXT").Number(uint32(data.UIDNext))
	}
	if data.UIDValidity != 0 {
		item("UIDVALIDITY").Number(data.UIDValidity)
	}
	if data.NumUnseen != nil {
		item("UNSEEN").Number(*data.NumUnseen)
	}
	if data.NumDeleted != nil {
		item("DELETED").Number(*data.NumDeleted)
	}
	if data.Size != nil {
		item("SIZE").Number64(uint64(*data.Size))
	}
	if data.AppendLimit != nil {
		item("APPENDLIMIT").Number(*data.AppendLimit)
	}
	if data.HighestModSeq != 0 {
		item("HIGHESTMODSEQ").Number64(data.HighestModSeq)
	}
	e.Close().CRLF()
	return e.Err()
}

// listWriter writes LIST (or LSUB) responses.
type listWriter struct {
	s    *session
	lsub bool
}

func (w listWriter) WriteList(data *imap.ListData) error {
	e := w.s.enc
	e.Untagged()
	if w.lsub {
		e.Raw("LSUB ")
	} else {
		e.Raw("LIST ")
	}
	e.Open()
	for i, a := range data.Attrs {
		if i > 0 {
			e.SP()
		}
		e.Atom(string(a))
	}
	e.Close().SP()
	if data.Delim == 0 {
		e.Nil()
	} else {
		e.String(string(data.Delim))
	}
	e.SP()
	if data.Mailbox == "" {
		e.Raw(`""`)
	} else {
		e.Mailbox(data.Mailbox)
	}
	if data.ChildInfo != nil && data.ChildInfo.Subscribed {
		e.Raw(` ("CHILDINFO" ("SUBSCRIBED"))`)
	}
	e.CRLF()
	if data.Status != nil {
		return w.s.writeStatus(data.Status)
	}
	return e.Err()
}

// writeSearch writes a SEARCH or, when the client asked with RETURN, an ESEARCH response
// (RFC 9051 §7.3.4).
func (s *session) writeSearch(tag string, kind numKind, data *imap.SearchData, ret *imap.SearchOptions) error {
	e := s.enc
	if ret == nil {
		e.Untagged().Raw("SEARCH")
		var nums []uint32
		switch set := data.All.(type) {
		case imap.SeqSet:
			nums, _ = set.Nums()
		case imap.UIDSet:
			uids, _ := set.Nums()
			for _, u := range uids {
				nums = append(nums, uint32(u))
			}
		}
		for _, n := range nums {
			e.SP().Number(n)
		}
		if data.ModSeq != 0 {
			e.Raw(" (MODSEQ ").Number64(data.ModSeq).Raw(")")
		}
		e.CRLF()
		return e.Err()
	}
	e.Untagged().Raw("ESEARCH (TAG ").String(tag).Raw(")")
	if kind == numUID {
		e.Raw(" UID")
	}
	if ret.ReturnMin && data.Min > 0 {
		e.Raw(" MIN ").Number(data.Min)
	}
	if ret.ReturnMax && data.Max > 0 {
		e.Raw(" MAX ").Number(data.Max)
	}
	if ret.ReturnAll && data.Count > 0 {
		e.Raw(" ALL ")
		writeNumSet(e, data.All)
	}
	if ret.ReturnCount {
		e.Raw(" COUNT ").Number(data.Count)
	}
	if data.ModSeq != 0 {
		e.Raw(" MODSEQ ").Number64(data.ModSeq)
	}
	e.CRLF()
	return e.Err()
}

// internalDate formats INTERNALDATE.
func internalDate(t time.Time) string { return t.Format(dateTimeLayout) }

// writeCopyUID tells a MOVE's client where the messages went (RFC 6851 §4.3, UIDPLUS).
func (s *session) writeCopyUID(data *imap.CopyData) error {
	s.enc.Untagged().Raw("OK [COPYUID ").Number(data.UIDValidity).SP().Raw(data.SourceUIDs.String()).SP().
		Raw(data.DestUIDs.String()).Raw("] Moved").CRLF()
	return s.enc.Err()
}
