package imapserver

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// bodyStructure builds BODYSTRUCTURE (extended) or BODY from the entity tree.
func bodyStructure(p *mimeutil.Part, extended bool) imap.BodyStructure {
	if p.Type == "multipart" && len(p.Parts) > 0 {
		mp := &imap.BodyStructureMultiPart{Subtype: p.Subtype}
		for _, c := range p.Parts {
			mp.Children = append(mp.Children, bodyStructure(c, extended))
		}
		if extended {
			mp.Extended = &imap.BodyStructureMultiPartExt{
				Params:      p.Params,
				Disposition: disposition(p.Header),
				Language:    languages(p.Header),
				Location:    p.Header.Get("Content-Location"),
			}
		}
		return mp
	}
	typ, subtype, params := p.Type, p.Subtype, p.Params
	if typ == "multipart" { // without parts: served as what it is, an opaque body
		typ, subtype, params = "application", "octet-stream", map[string]string{}
	}
	sp := &imap.BodyStructureSinglePart{
		Type: typ, Subtype: subtype, Params: params,
		ID:          strings.TrimSpace(p.Header.Get("Content-Id")),
		Description: strings.TrimSpace(p.Header.Get("Content-Description")),
		Encoding:    strings.ToUpper(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))),
		Size:        uint32(min(p.End-p.BodyStart, 1<<32-1)),
	}
	if sp.Encoding == "" {
		sp.Encoding = "7BIT"
	}
	switch {
	case p.Message != nil:
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      partEnvelope(p.Message.RawHeader),
			BodyStructure: bodyStructure(p.Message, extended),
			NumLines:      p.Lines,
		}
	case typ == "text":
		sp.Text = &imap.BodyStructureText{NumLines: p.Lines}
	}
	if extended {
		sp.Extended = &imap.BodyStructureSinglePartExt{
			Disposition: disposition(p.Header),
			Language:    languages(p.Header),
			Location:    p.Header.Get("Content-Location"),
		}
	}
	return sp
}

func disposition(h mimeutil.Header) *imap.BodyStructureDisposition {
	v := h.Get("Content-Disposition")
	if v == "" {
		return nil
	}
	// Content-Disposition has the grammar of a media type without the "/".
	typ, params, err := mime.ParseMediaType(v)
	if err != nil && typ == "" {
		typ, _, _ = strings.Cut(v, ";")
		typ = strings.ToLower(strings.TrimSpace(typ))
	}
	if typ == "" {
		return nil
	}
	if params == nil {
		params = map[string]string{}
	}
	return &imap.BodyStructureDisposition{Value: typ, Params: params}
}

func languages(h mimeutil.Header) []string {
	v := h.Get("Content-Language")
	if v == "" {
		return nil
	}
	var out []string
	for _, l := range strings.Split(v, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// sectionBytes returns what BODY[section] names, before any partial range (RFC 9051
// §6.4.5). src reads the whole message; ok is false for a part that does not exist, which
// is answered as an empty string.
func sectionBytes(tree *mimeutil.Part, src io.ReaderAt, sec *imap.FetchItemBodySection) ([]byte, bool, error) {
	target := tree
	if len(sec.Part) > 0 {
		if target = tree.Find(sec.Part); target == nil {
			return nil, false, nil
		}
	}
	// With a part number, HEADER and TEXT name the message inside a message/rfc822 part.
	msg := target
	if len(sec.Part) > 0 && target.Message != nil && sec.Specifier != imap.PartSpecifierMIME && sec.Specifier != imap.PartSpecifierNone {
		msg = target.Message
	}
	switch sec.Specifier {
	case imap.PartSpecifierNone:
		if len(sec.Part) == 0 {
			return readRange(src, 0, tree.End)
		}
		return readRange(src, target.BodyStart, target.End)
	case imap.PartSpecifierMIME:
		return target.RawHeader, true, nil
	case imap.PartSpecifierText:
		if len(sec.Part) > 0 && target.Message == nil {
			return nil, false, nil
		}
		return readRange(src, msg.BodyStart, msg.End)
	case imap.PartSpecifierHeader:
		if len(sec.Part) > 0 && target.Message == nil {
			return nil, false, nil
		}
		h := msg.RawHeader
		switch {
		case len(sec.HeaderFields) > 0:
			h = filterHeader(h, sec.HeaderFields, true)
		case len(sec.HeaderFieldsNot) > 0:
			h = filterHeader(h, sec.HeaderFieldsNot, false)
		}
		return h, true, nil
	}
	return nil, false, nil
}

// readRange reads bytes [from, to) of the message.
func readRange(src io.ReaderAt, from, to int64) ([]byte, bool, error) {
	b := make([]byte, max(to-from, 0))
	n, err := src.ReadAt(b, from)
	if err == io.EOF && int64(n) == to-from {
		err = nil
	}
	return b[:n], true, err
}

// filterHeader keeps (keep) or drops the fields named in names, with the blank line that
// ends a header section.
func filterHeader(raw []byte, names []string, keep bool) []byte {
	want := map[string]bool{}
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	var out bytes.Buffer
	take := false
	rest := raw
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := bytes.Cut(line, []byte(":"))
			take = want[strings.ToLower(string(bytes.TrimSpace(name)))] == keep
		}
		if take {
			out.Write(line)
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// errUnknownCTE is a part whose Content-Transfer-Encoding BINARY cannot undo (RFC 3516 §4.3).
var errUnknownCTE = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "UNKNOWN-CTE", Text: "Unknown Content-Transfer-Encoding"}

// binaryBytes returns the decoded content of BINARY[part] (RFC 3516): the part's body with
// its transfer encoding undone. ok is false for a part that does not exist or is not a
// leaf.
func binaryBytes(tree *mimeutil.Part, src io.ReaderAt, part []int) ([]byte, bool, error) {
	target := tree
	if len(part) > 0 {
		if target = tree.Find(part); target == nil {
			return nil, false, nil
		}
	}
	if len(part) == 0 {
		b, _, err := readRange(src, 0, tree.End)
		return b, true, err
	}
	if target.Type == "multipart" && len(target.Parts) > 0 {
		return nil, false, nil
	}
	raw, _, err := readRange(src, target.BodyStart, target.End)
	if err != nil {
		return nil, false, err
	}
	cte := strings.ToLower(target.Header.Get("Content-Transfer-Encoding"))
	switch cte {
	case "", "7bit", "8bit", "binary":
		return raw, true, nil
	case "base64", "quoted-printable":
	default:
		return nil, false, errUnknownCTE
	}
	r := mimeutil.DecodeBody(bytes.NewReader(raw), cte)
	out, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		// A broken encoding: what decoded so far, as other servers answer.
		err = nil
	}
	return out, true, nil
}
