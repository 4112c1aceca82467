package imapwire

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Store is the argument of STORE after the sequence set.
type Store struct {
	Flags          imap.StoreFlags
	UnchangedSince uint64 // 0: not given
	HasUnchanged   bool
}

// ReadStore reads "[(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags" and the line end.
func (d *Decoder) ReadStore() (*Store, error) {
	st := &Store{}
	if ok, err := d.atByte('('); err != nil {
		return nil, err
	} else if ok {
		err := d.readOptions("STORE modifier", nil, map[string]func() error{"UNCHANGEDSINCE": func() (err error) {
			st.UnchangedSince, err = d.ReadNumber64()
			st.HasUnchanged = true
			return err
		}})
		if err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	item, err := d.ReadChars("store item", func(c byte) bool { return IsAtomChar(c) })
	if err != nil {
		return nil, err
	}
	up := strings.ToUpper(item)
	switch {
	case strings.HasPrefix(up, "+"):
		st.Flags.Op = imap.StoreFlagsAdd
		up = up[1:]
	case strings.HasPrefix(up, "-"):
		st.Flags.Op = imap.StoreFlagsDel
		up = up[1:]
	default:
		st.Flags.Op = imap.StoreFlagsSet
	}
	switch up {
	case "FLAGS":
	case "FLAGS.SILENT":
		st.Flags.Silent = true
	default:
		return nil, syntaxErr("unknown STORE item %s", item)
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if st.Flags.Flags, err = d.ReadFlags(); err != nil {
		return nil, err
	}
	for _, f := range st.Flags.Flags {
		if f == `\*` || strings.EqualFold(string(f), `\Recent`) {
			return nil, syntaxErr("%s cannot be stored", f)
		}
	}
	return st, d.CRLF()
}

// List is the argument of LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819
// LIST-STATUS).
type List struct {
	Ref      string
	Patterns []string
	Options  imap.ListOptions
	// Extended is set when selection or return options were given: the response then
	// carries CHILDINFO and the like.
	Extended bool
}

// isListChar allows the wildcards besides astring characters.
func isListChar(c byte) bool { return IsAStringChar(c) || c == '%' || c == '*' }

// ReadList reads LIST's arguments up to the line end. Reference and patterns come back as
// the client sent them (modified UTF-7 or UTF-8); DecodeMailbox turns them into names.
func (d *Decoder) ReadListArgs() (*List, error) {
	l := &List{}
	if ok, err := d.atByte('('); err != nil {
		return nil, err
	} else if ok {
		l.Extended = true
		err := d.readOptions("LIST selection option", map[string]*bool{
			"SUBSCRIBED":     &l.Options.SelectSubscribed,
			"REMOTE":         &l.Options.SelectRemote,
			"RECURSIVEMATCH": &l.Options.SelectRecursiveMatch,
			"SPECIAL-USE":    &l.Options.SelectSpecialUse,
		}, nil)
		if err != nil {
			return nil, err
		}
		if l.Options.SelectRecursiveMatch && !l.Options.SelectSubscribed && !l.Options.SelectSpecialUse {
			return nil, syntaxErr("RECURSIVEMATCH needs another selection option")
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	ref, err := d.ReadAString(MaxSmallLiteral)
	if err != nil {
		return nil, err
	}
	l.Ref = ref
	if err := d.SP(); err != nil {
		return nil, err
	}
	pattern := func() error {
		c, err := d.peek()
		if err != nil {
			return err
		}
		var p string
		if lit, err := d.atLiteral(); err != nil {
			return err
		} else if c == '"' || lit {
			p, err = d.ReadString(MaxSmallLiteral)
			if err != nil {
				return err
			}
		} else if p, err = d.ReadChars("pattern", isListChar); err != nil {
			return err
		}
		l.Patterns = append(l.Patterns, p)
		return nil
	}
	if ok, err := d.atByte('('); err != nil {
		return nil, err
	} else if ok {
		l.Extended = true
		if err := d.ReadList(pattern); err != nil {
			return nil, err
		}
	} else if err := pattern(); err != nil {
		return nil, err
	}
	if ok, err := d.Accept(' '); err != nil {
		return nil, err
	} else if ok {
		ret, err := d.ReadAtom()
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(ret, "RETURN") {
			return nil, syntaxErr("expected RETURN")
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
		l.Extended = true
		err = d.readOptions("LIST return option", map[string]*bool{
			"SUBSCRIBED":  &l.Options.ReturnSubscribed,
			"CHILDREN":    &l.Options.ReturnChildren,
			"SPECIAL-USE": &l.Options.ReturnSpecialUse,
		}, map[string]func() error{"STATUS": func() (err error) {
			l.Options.ReturnStatus, err = d.ReadStatusItems()
			return err
		}})
		if err != nil {
			return nil, err
		}
	}
	return l, d.CRLF()
}

// ReadStatusItems reads STATUS's "(MESSAGES UIDNEXT …)".
func (d *Decoder) ReadStatusItems() (*imap.StatusOptions, error) {
	o := &imap.StatusOptions{}
	err := d.readOptions("STATUS item", map[string]*bool{
		"MESSAGES":      &o.NumMessages,
		"RECENT":        &o.NumRecent,
		"UIDNEXT":       &o.UIDNext,
		"UIDVALIDITY":   &o.UIDValidity,
		"UNSEEN":        &o.NumUnseen,
		"DELETED":       &o.NumDeleted,
		"SIZE":          &o.Size,
		"APPENDLIMIT":   &o.AppendLimit,
		"HIGHESTMODSEQ": &o.HighestModSeq,
	}, nil)
	if err == nil && *o == (imap.StatusOptions{}) {
		err = syntaxErr("STATUS needs an item")
	}
	return o, err
}

// Select holds SELECT's and EXAMINE's parameters (RFC 7162).
type Select struct {
	CondStore bool
	QResync   *QResync
}

// QResync is SELECT's QRESYNC parameter (RFC 7162 §3.2.5).
type QResync struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   imap.UIDSet // nil: not given
	// SeqMatch pairs sequence numbers with the UIDs the client had at them.
	SeqMatchSeqs imap.SeqSet
	SeqMatchUIDs imap.UIDSet
}

// ReadSelectParams reads the optional "(CONDSTORE)" / "(QRESYNC (…))" and the line end.
func (d *Decoder) ReadSelectParams() (*Select, error) {
	sp := &Select{}
	if ok, err := d.Accept(' '); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return sp, d.CRLF()
	}
	err := d.readOptions("SELECT parameter", map[string]*bool{"CONDSTORE": &sp.CondStore}, map[string]func() error{"QRESYNC": func() (err error) {
		sp.QResync, err = d.readQResync()
		return err
	}})
	if err != nil {
		return nil, err
	}
	return sp, d.CRLF()
}

func (d *Decoder) readQResync() (*QResync, error) {
	q := &QResync{}
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	uv, err := d.ReadNumber()
	if err != nil {
		return nil, err
	}
	if uv == 0 {
		return nil, syntaxErr("UIDVALIDITY must not be zero")
	}
	q.UIDValidity = uv
	if err := d.SP(); err != nil {
		return nil, err
	}
	if q.ModSeq, err = d.ReadNumber64(); err != nil {
		return nil, err
	}
	if ok, err := d.Accept(' '); err != nil {
		return nil, err
	} else if ok {
		if c, err := d.peek(); err != nil {
			return nil, err
		} else if c != '(' {
			set, err := d.ReadNumSet(true)
			if err != nil || set.Saved {
				return nil, syntaxErrOr(err, "bad known-uids")
			}
			q.KnownUIDs = set.Set.(imap.UIDSet)
			if ok, err = d.Accept(' '); err != nil {
				return nil, err
			}
		}
		if ok {
			if err := d.Expect('('); err != nil {
				return nil, err
			}
			seqs, err := d.ReadNumSet(false)
			if err != nil || seqs.Saved {
				return nil, syntaxErrOr(err, "bad seq-match-data")
			}
			if err := d.SP(); err != nil {
				return nil, err
			}
			uids, err := d.ReadNumSet(true)
			if err != nil || uids.Saved {
				return nil, syntaxErrOr(err, "bad seq-match-data")
			}
			q.SeqMatchSeqs, q.SeqMatchUIDs = seqs.Set.(imap.SeqSet), uids.Set.(imap.UIDSet)
			if err := d.Expect(')'); err != nil {
				return nil, err
			}
		}
	}
	return q, d.Expect(')')
}
