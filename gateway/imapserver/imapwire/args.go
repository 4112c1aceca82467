package imapwire

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Bounds on what one command may ask for, beyond MaxLine.
const (
	// MaxSmallLiteral bounds a literal outside APPEND (a login, a search string, a mailbox
	// name): LITERAL-'s 4096 bytes (RFC 7888), which IMAP4rev2 clients expect.
	MaxSmallLiteral = 4096
	// maxDepth bounds nested parentheses (search keys, fetch attributes).
	maxDepth = 32
	// maxSetRanges bounds the ranges of a sequence set.
	maxSetRanges = 10000
)

// ReadCommandName reads the tag and the name of a command, upper-cased; "UID" and the
// command after it come back as "UID FETCH".
func (d *Decoder) ReadCommandName() (tag, name string, err error) {
	d.Begin()
	if tag, err = d.ReadTag(); err != nil {
		return "", "", err
	}
	if err = d.SP(); err != nil {
		return tag, "", err
	}
	if name, err = d.ReadAtom(); err != nil {
		return tag, "", err
	}
	name = strings.ToUpper(name)
	if name == "UID" {
		if err = d.SP(); err != nil {
			return tag, name, err
		}
		sub, err := d.ReadAtom()
		if err != nil {
			return tag, name, err
		}
		name += " " + strings.ToUpper(sub)
	}
	return tag, name, nil
}

// ReadMailbox reads a mailbox name (an astring). utf8 tells whether the client sends UTF-8
// (it ENABLEd IMAP4rev2 or UTF8=ACCEPT); otherwise the name is modified UTF-7 and decoded,
// and a name that is not valid modified UTF-7 is a syntax error.
func (d *Decoder) ReadMailbox(utf8 bool) (string, error) {
	name, err := d.ReadAString(MaxSmallLiteral)
	if err != nil {
		return "", err
	}
	return DecodeMailbox(name, utf8)
}

// DecodeMailbox turns a client's mailbox name into UTF-8 (see ReadMailbox).
func DecodeMailbox(name string, utf8 bool) (string, error) {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX", nil
	}
	if utf8 {
		return name, nil
	}
	dec, err := DecodeMUTF7(name)
	if err != nil {
		return "", &CommandError{Msg: "mailbox name is not valid modified UTF-7"}
	}
	return dec, nil
}

// isFlagChar allows "\" for system flags besides atom characters.
func isFlagChar(c byte) bool { return IsAtomChar(c) || c == '\\' }

// ReadFlag reads a flag or keyword ("\Seen", "$Label1"). "\*" is read too; the caller
// refuses it where it has no place.
func (d *Decoder) ReadFlag() (imap.Flag, error) {
	s, err := d.ReadChars("flag", func(c byte) bool { return isFlagChar(c) || c == '*' })
	if err != nil {
		return "", err
	}
	if strings.IndexByte(s[1:], '\\') >= 0 || strings.IndexByte(s, '*') >= 0 && s != `\*` {
		return "", syntaxErr("bad flag %q", s)
	}
	if s[0] == '\\' {
		for _, f := range []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, "\\Recent"} {
			if strings.EqualFold(s, string(f)) {
				return f, nil
			}
		}
	}
	return imap.Flag(s), nil
}

// ReadFlagList reads "(flag ...)".
func (d *Decoder) ReadFlagList() ([]imap.Flag, error) {
	var flags []imap.Flag
	err := d.ReadList(func() error {
		f, err := d.ReadFlag()
		flags = append(flags, f)
		return err
	})
	return flags, err
}

// ReadFlags reads a flag list or, as STORE allows, flags separated by spaces without
// parentheses.
func (d *Decoder) ReadFlags() ([]imap.Flag, error) {
	if c, err := d.peek(); err != nil {
		return nil, err
	} else if c == '(' {
		return d.ReadFlagList()
	}
	var flags []imap.Flag
	for {
		f, err := d.ReadFlag()
		if err != nil {
			return nil, err
		}
		flags = append(flags, f)
		if ok, err := d.Accept(' '); err != nil || !ok {
			return flags, err
		}
	}
}

// NumSet is a sequence or UID set as a client sent it. Saved is set for "$", the result of
// the last SEARCH ... RETURN (SAVE) (RFC 5182): the session substitutes it.
type NumSet struct {
	Set   imap.NumSet
	Saved bool
}

func isSetChar(c byte) bool {
	return c >= '0' && c <= '9' || c == ':' || c == ',' || c == '*' || c == '$'
}

// ReadNumSet reads a sequence set; uid makes it a UID set.
func (d *Decoder) ReadNumSet(uid bool) (NumSet, error) {
	s, err := d.ReadChars("sequence set", isSetChar)
	if err != nil {
		return NumSet{}, err
	}
	return ParseNumSet(s, uid)
}

// ParseNumSet parses a sequence set ("1:3,5,7:*" or "$").
func ParseNumSet(s string, uid bool) (NumSet, error) {
	if s == "$" {
		if uid {
			return NumSet{Set: imap.UIDSet{}, Saved: true}, nil
		}
		return NumSet{Set: imap.SeqSet{}, Saved: true}, nil
	}
	var seq imap.SeqSet
	parts := strings.Split(s, ",")
	if len(parts) > maxSetRanges {
		return NumSet{}, syntaxErr("sequence set too long")
	}
	for _, part := range parts {
		lo, hi, ok := strings.Cut(part, ":")
		start, err := parseSeqNum(lo)
		if err != nil {
			return NumSet{}, err
		}
		stop := start
		if ok {
			if stop, err = parseSeqNum(hi); err != nil {
				return NumSet{}, err
			}
		}
		seq = append(seq, imap.SeqRange{Start: start, Stop: stop})
	}
	if !uid {
		return NumSet{Set: seq}, nil
	}
	uids := make(imap.UIDSet, len(seq))
	for i, r := range seq {
		uids[i] = imap.UIDRange{Start: imap.UID(r.Start), Stop: imap.UID(r.Stop)}
	}
	return NumSet{Set: uids}, nil
}

// parseSeqNum parses a seq-number: a non-zero number or "*" (0 here, as imap.SeqRange has it).
func parseSeqNum(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" || len(s) > 10 || strings.Trim(s, "0123456789") != "" || s[0] == '0' {
		return 0, syntaxErr("bad sequence number %q", s)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	if n > 1<<32-1 {
		return 0, syntaxErr("sequence number out of range")
	}
	return uint32(n), nil
}

var months = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// ReadDateTime reads a quoted date-time (APPEND): "dd-Mon-yyyy hh:mm:ss +zzzz", the day
// possibly space-padded.
func (d *Decoder) ReadDateTime() (time.Time, error) {
	s, err := d.ReadQuoted()
	if err != nil {
		return time.Time{}, err
	}
	t, perr := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if perr != nil {
		return time.Time{}, syntaxErr("bad date-time")
	}
	return t, nil
}

// ReadDate reads a date (SEARCH): "d-Mon-yyyy", quoted or not.
func (d *Decoder) ReadDate() (time.Time, error) {
	var s string
	var err error
	if c, perr := d.peek(); perr != nil {
		return time.Time{}, perr
	} else if c == '"' {
		s, err = d.ReadQuoted()
	} else {
		s, err = d.ReadAtom()
	}
	if err != nil {
		return time.Time{}, err
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return time.Time{}, syntaxErr("bad date")
	}
	mon := -1
	for i, m := range months {
		if strings.EqualFold(parts[1], m) {
			mon = i
		}
	}
	day, derr := parseSmall(parts[0], 1, 2)
	year, yerr := parseSmall(parts[2], 4, 4)
	if mon < 0 || derr != nil || yerr != nil || day < 1 || day > 31 {
		return time.Time{}, syntaxErr("bad date")
	}
	return time.Date(year, time.Month(mon+1), day, 0, 0, 0, 0, time.UTC), nil
}

func parseSmall(s string, minLen, maxLen int) (int, error) {
	if len(s) < minLen || len(s) > maxLen || strings.Trim(s, "0123456789") != "" {
		return 0, syntaxErr("bad number")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// ReadIDParams reads the ID command's argument (RFC 2971): NIL or a list of field/value
// pairs. Bounded as RFC 2971 bounds it: 30 pairs, fields of 30 bytes, values of 1024.
func (d *Decoder) ReadIDParams() (map[string]string, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if c != '(' {
		if _, ok, err := d.ReadNString(0); err != nil || ok {
			return nil, syntaxErrOr(err, "expected NIL or a list")
		}
		return nil, nil
	}
	params := map[string]string{}
	var key string
	var isKey = true
	err = d.ReadList(func() error {
		s, ok, err := d.ReadNString(MaxSmallLiteral)
		if err != nil {
			return err
		}
		if isKey {
			if !ok || len(s) > 30 {
				return syntaxErr("bad ID field")
			}
			key = s
		} else {
			if len(params) >= 30 || len(s) > 1024 {
				return syntaxErr("ID too long")
			}
			if ok {
				params[key] = s
			} else {
				params[key] = ""
			}
		}
		isKey = !isKey
		return nil
	})
	if err == nil && !isKey {
		err = syntaxErr("ID field without a value")
	}
	return params, err
}

func syntaxErrOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return syntaxErr("%s", msg)
}
