package imapwire

import (
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Fetch is the argument of FETCH: what to fetch, in go-imap's terms, and what the response
// must be called where that differs.
type Fetch struct {
	Options imap.FetchOptions
	// Labels name the response of a body section asked for with an RFC822 form
	// ("RFC822", "RFC822.HEADER", "RFC822.TEXT") instead of BODY[…].
	Labels map[*imap.FetchItemBodySection]string
	// Vanished asks for VANISHED (EARLIER) with CHANGEDSINCE (RFC 7162 §3.2.6, UID FETCH).
	Vanished bool
}

// ReadFetch reads FETCH's items after the sequence set, its modifiers and the line end.
func (d *Decoder) ReadFetch() (*Fetch, error) {
	f := &Fetch{Options: imap.FetchOptions{}}
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if c == '(' {
		err = d.ReadList(func() error { return d.readFetchAtt(f) })
	} else {
		err = d.readFetchAtt(f)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := d.Accept(' '); err != nil {
		return nil, err
	} else if ok {
		err := d.readOptions("FETCH modifier", map[string]*bool{"VANISHED": &f.Vanished}, map[string]func() error{"CHANGEDSINCE": func() (err error) {
			f.Options.ChangedSince, err = d.ReadNumber64()
			f.Options.ModSeq = err == nil
			return err
		}})
		if err != nil {
			return nil, err
		}
	}
	return f, d.CRLF()
}

func (d *Decoder) readFetchAtt(f *Fetch) error {
	name, err := d.ReadChars("fetch attribute", func(c byte) bool { return IsAtomChar(c) && c != '[' && c != '<' })
	if err != nil {
		return err
	}
	o := &f.Options
	label := func(sec *imap.FetchItemBodySection, l string) {
		if f.Labels == nil {
			f.Labels = map[*imap.FetchItemBodySection]string{}
		}
		f.Labels[sec] = l
		o.BodySection = append(o.BodySection, sec)
	}
	switch up := strings.ToUpper(name); up {
	case "ALL", "FAST", "FULL":
		o.Flags, o.InternalDate, o.RFC822Size = true, true, true
		if up != "FAST" {
			o.Envelope = true
		}
		if up == "FULL" {
			o.BodyStructure = &imap.FetchItemBodyStructure{}
		}
	case "ENVELOPE":
		o.Envelope = true
	case "FLAGS":
		o.Flags = true
	case "INTERNALDATE":
		o.InternalDate = true
	case "RFC822.SIZE":
		o.RFC822Size = true
	case "UID":
		o.UID = true
	case "MODSEQ":
		o.ModSeq = true
	case "BODYSTRUCTURE":
		o.BodyStructure = &imap.FetchItemBodyStructure{Extended: true}
	case "RFC822":
		label(&imap.FetchItemBodySection{}, "RFC822")
	case "RFC822.HEADER":
		label(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}, "RFC822.HEADER")
	case "RFC822.TEXT":
		label(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}, "RFC822.TEXT")
	case "BODY", "BODY.PEEK":
		if ok, err := d.atByte('['); err != nil {
			return err
		} else if !ok {
			if up == "BODY.PEEK" {
				return syntaxErr("BODY.PEEK needs a section")
			}
			o.BodyStructure = &imap.FetchItemBodyStructure{}
			return nil
		}
		sec, err := d.readSection()
		if err != nil {
			return err
		}
		sec.Peek = up == "BODY.PEEK"
		if sec.Partial, err = d.readPartial(); err != nil {
			return err
		}
		o.BodySection = append(o.BodySection, sec)
	case "BINARY", "BINARY.PEEK":
		part, err := d.readBinaryPart()
		if err != nil {
			return err
		}
		partial, err := d.readPartial()
		if err != nil {
			return err
		}
		o.BinarySection = append(o.BinarySection, &imap.FetchItemBinarySection{Part: part, Partial: partial, Peek: up == "BINARY.PEEK"})
	case "BINARY.SIZE":
		part, err := d.readBinaryPart()
		if err != nil {
			return err
		}
		o.BinarySectionSize = append(o.BinarySectionSize, &imap.FetchItemBinarySectionSize{Part: part})
	default:
		return syntaxErr("unknown FETCH attribute %s", name)
	}
	return nil
}

func (d *Decoder) atByte(c byte) (bool, error) {
	got, err := d.peek()
	return got == c, err
}

// readPart reads a section's part number ("1.2.3") up to what follows it.
func (d *Decoder) readPart() ([]int, error) {
	var part []int
	for {
		c, err := d.peek()
		if err != nil || c < '1' || c > '9' {
			return part, err
		}
		n, err := d.ReadNumber()
		if err != nil {
			return nil, err
		}
		if len(part) >= maxDepth || n > 1<<20 {
			return nil, syntaxErr("part number out of range")
		}
		part = append(part, int(n))
		if ok, err := d.atByte('.'); err != nil || !ok {
			return part, err
		}
		// A "." is followed by another number or by a section text (HEADER, MIME, TEXT).
		b, err := d.br.Peek(2)
		if err != nil && len(b) < 2 {
			return nil, d.fail(err)
		}
		d.next() //nolint:errcheck // peeked
		if b[1] < '0' || b[1] > '9' {
			return part, nil
		}
	}
}

// readSection reads "[section]".
func (d *Decoder) readSection() (*imap.FetchItemBodySection, error) {
	if err := d.Expect('['); err != nil {
		return nil, err
	}
	sec := &imap.FetchItemBodySection{}
	part, err := d.readPart()
	if err != nil {
		return nil, err
	}
	sec.Part = part
	if ok, err := d.atByte(']'); err != nil {
		return nil, err
	} else if !ok {
		text, err := d.ReadAtom()
		if err != nil {
			return nil, err
		}
		switch up := strings.ToUpper(text); up {
		case "HEADER":
			sec.Specifier = imap.PartSpecifierHeader
		case "TEXT":
			sec.Specifier = imap.PartSpecifierText
		case "MIME":
			if len(part) == 0 {
				return nil, syntaxErr("MIME needs a part number")
			}
			sec.Specifier = imap.PartSpecifierMIME
		case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
			sec.Specifier = imap.PartSpecifierHeader
			if err := d.SP(); err != nil {
				return nil, err
			}
			var fields []string
			err := d.ReadList(func() error {
				f, err := d.ReadAString(MaxSmallLiteral)
				fields = append(fields, f)
				return err
			})
			if err != nil {
				return nil, err
			}
			if len(fields) == 0 {
				return nil, syntaxErr("empty header field list")
			}
			if up == "HEADER.FIELDS" {
				sec.HeaderFields = fields
			} else {
				sec.HeaderFieldsNot = fields
			}
		default:
			return nil, syntaxErr("unknown section %s", text)
		}
	}
	return sec, d.Expect(']')
}

// readBinaryPart reads BINARY's "[part]".
func (d *Decoder) readBinaryPart() ([]int, error) {
	if err := d.Expect('['); err != nil {
		return nil, err
	}
	part, err := d.readPart()
	if err != nil {
		return nil, err
	}
	return part, d.Expect(']')
}

// readPartial reads an optional "<offset.size>".
func (d *Decoder) readPartial() (*imap.SectionPartial, error) {
	if ok, err := d.Accept('<'); err != nil || !ok {
		return nil, err
	}
	off, err := d.ReadNumber()
	if err != nil {
		return nil, err
	}
	if err := d.Expect('.'); err != nil {
		return nil, err
	}
	size, err := d.ReadNumber()
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, syntaxErr("partial size must not be zero")
	}
	return &imap.SectionPartial{Offset: int64(off), Size: int64(size)}, d.Expect('>')
}

// SectionName is how a body section is named in a FETCH response: "1.2.HEADER.FIELDS
// (FROM TO)" within BODY[…].
func SectionName(sec *imap.FetchItemBodySection) string {
	var sb strings.Builder
	writePart(&sb, sec.Part)
	spec := string(sec.Specifier)
	if len(sec.HeaderFields) > 0 {
		spec = "HEADER.FIELDS"
	} else if len(sec.HeaderFieldsNot) > 0 {
		spec = "HEADER.FIELDS.NOT"
	}
	if spec != "" {
		if len(sec.Part) > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(spec)
	}
	fields := sec.HeaderFields
	if len(fields) == 0 {
		fields = sec.HeaderFieldsNot
	}
	if len(fields) > 0 {
		sb.WriteString(" (")
		for i, f := range fields {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(quoteIfNeeded(f))
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// PartName is a part number as a response names it ("1.2").
func PartName(part []int) string {
	var sb strings.Builder
	writePart(&sb, part)
	return sb.String()
}

func writePart(sb *strings.Builder, part []int) {
	for i, n := range part {
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(strconv.Itoa(n))
	}
}

func quoteIfNeeded(s string) string {
	plain := s != ""
	for i := 0; i < len(s); i++ {
		plain = plain && IsAStringChar(s[i])
	}
	if plain {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
