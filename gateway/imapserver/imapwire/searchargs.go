package imapwire

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Search is the argument of SEARCH.
type Search struct {
	Criteria imap.SearchCriteria
	// Return holds RETURN's options; Extended is set when RETURN was given, and the answer
	// is then ESEARCH (RFC 4731, RFC 9051 §6.4.4).
	Return   imap.SearchOptions
	Extended bool
	Charset  string
	// SavedRef is set when a key refers to "$" (RFC 5182 SEARCHRES): the session resolves
	// the sets marked imap.SeqSet{{Start: SavedMarker}} / UIDSet{{Start: SavedMarker}}.
	SavedRef bool
}

// SavedMarker stands for "$" inside a search key's sequence set: no real set starts at it.
const SavedMarker = 1<<32 - 1

// ReadSearch reads SEARCH's arguments up to the line end.
func (d *Decoder) ReadSearch(uid bool) (*Search, error) {
	s := &Search{}
	if err := d.readSearchPrefix(s); err != nil {
		return nil, err
	}
	for first := true; ; first = false {
		if end, err := d.AtEnd(); err != nil {
			return nil, err
		} else if end {
			if first {
				return nil, syntaxErr("SEARCH needs a key")
			}
			return s, d.CRLF()
		}
		if !first {
			if err := d.SP(); err != nil {
				return nil, err
			}
		}
		if err := d.readSearchKey(s, &s.Criteria, uid, 0); err != nil {
			return nil, err
		}
	}
}

// readSearchPrefix reads the optional "RETURN (…)" and "CHARSET x", in that order.
func (d *Decoder) readSearchPrefix(s *Search) error {
	for {
		c, err := d.peek()
		if err != nil {
			return err
		}
		if c != 'R' && c != 'r' && c != 'C' && c != 'c' {
			return nil
		}
		// Both are atoms that might also start a key (CC): look at the whole word.
		word := strings.ToUpper(string(d.peekWord(8)))
		switch {
		case strings.HasPrefix(word, "RETURN ") && !s.Extended && s.Charset == "":
			d.ReadAtom() //nolint:errcheck // peeked
			if err := d.SP(); err != nil {
				return err
			}
			s.Extended = true
			err := d.readOptions("RETURN option", map[string]*bool{
				"MIN":   &s.Return.ReturnMin,
				"MAX":   &s.Return.ReturnMax,
				"ALL":   &s.Return.ReturnAll,
				"COUNT": &s.Return.ReturnCount,
				"SAVE":  &s.Return.ReturnSave,
			}, nil)
			if err != nil {
				return err
			}
			if !s.Return.ReturnMin && !s.Return.ReturnMax && !s.Return.ReturnCount && !s.Return.ReturnSave {
				s.Return.ReturnAll = true // RETURN () means RETURN (ALL)
			}
		case strings.HasPrefix(word, "CHARSET ") && s.Charset == "":
			d.ReadAtom() //nolint:errcheck // peeked
			if err := d.SP(); err != nil {
				return err
			}
			cs, err := d.ReadAString(MaxSmallLiteral)
			if err != nil {
				return err
			}
			s.Charset = cs
		default:
			return nil
		}
		if err := d.SP(); err != nil {
			return err
		}
	}
}

// readSearchKey reads one search key into c (keys given one after the other all apply).
func (d *Decoder) readSearchKey(s *Search, c *imap.SearchCriteria, uid bool, depth int) error {
	if depth > maxDepth {
		return syntaxErr("search keys nested too deeply")
	}
	first, err := d.peek()
	if err != nil {
		return err
	}
	if first == '(' {
		return d.ReadList(func() error { return d.readSearchKey(s, c, uid, depth+1) })
	}
	if first >= '0' && first <= '9' || first == '*' || first == '$' {
		set, err := d.ReadNumSet(false)
		if err != nil {
			return err
		}
		if set.Saved {
			s.SavedRef = true
			if uid {
				c.UID = append(c.UID, imap.UIDSet{{Start: SavedMarker, Stop: SavedMarker}})
			} else {
				c.SeqNum = append(c.SeqNum, imap.SeqSet{{Start: SavedMarker, Stop: SavedMarker}})
			}
			return nil
		}
		c.SeqNum = append(c.SeqNum, set.Set.(imap.SeqSet))
		return nil
	}
	name, err := d.ReadAtom()
	if err != nil {
		return err
	}
	key := strings.ToUpper(name)
	arg := func() (string, error) {
		if err := d.SP(); err != nil {
			return "", err
		}
		return d.ReadAString(MaxSmallLiteral)
	}
	date := func() (time.Time, error) {
		if err := d.SP(); err != nil {
			return time.Time{}, err
		}
		return d.ReadDate()
	}
	number := func() (int64, error) {
		if err := d.SP(); err != nil {
			return 0, err
		}
		n, err := d.ReadNumber64()
		return int64(n), err
	}
	switch key {
	case "ALL":
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "RECENT":
		c.Flag = append(c.Flag, imap.Flag(`\`+key[:1]+strings.ToLower(key[1:])))
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		c.NotFlag = append(c.NotFlag, imap.Flag(`\`+key[2:3]+strings.ToLower(key[3:])))
	case "NEW":
		c.Flag = append(c.Flag, `\Recent`)
		c.NotFlag = append(c.NotFlag, imap.FlagSeen)
	case "OLD":
		c.NotFlag = append(c.NotFlag, `\Recent`)
	case "KEYWORD", "UNKEYWORD":
		if err := d.SP(); err != nil {
			return err
		}
		f, err := d.ReadFlag()
		if err != nil {
			return err
		}
		if key == "KEYWORD" {
			c.Flag = append(c.Flag, f)
		} else {
			c.NotFlag = append(c.NotFlag, f)
		}
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		v, err := arg()
		if err != nil {
			return err
		}
		field := map[string]string{"BCC": "Bcc", "CC": "Cc", "FROM": "From", "SUBJECT": "Subject", "TO": "To"}[key]
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: field, Value: v})
	case "HEADER":
		k, err := arg()
		if err != nil {
			return err
		}
		v, err := arg()
		if err != nil {
			return err
		}
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: k, Value: v})
	case "BODY", "TEXT":
		v, err := arg()
		if err != nil {
			return err
		}
		if key == "BODY" {
			c.Body = append(c.Body, v)
		} else {
			c.Text = append(c.Text, v)
		}
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		t, err := date()
		if err != nil {
			return err
		}
		since, before := &c.Since, &c.Before
		if strings.HasPrefix(key, "SENT") {
			since, before = &c.SentSince, &c.SentBefore
			key = key[4:]
		}
		switch key {
		case "BEFORE":
			*before = laterOf(*before, t, true)
		case "SINCE":
			*since = laterOf(*since, t, false)
		case "ON":
			*since = laterOf(*since, t, false)
			*before = laterOf(*before, t.AddDate(0, 0, 1), true)
		}
	case "OLDER", "YOUNGER":
		// RFC 5032: the internal date is at least (OLDER) or at most (YOUNGER) n seconds
		// before now; bounds in time, so they join SINCE and BEFORE.
		n, err := number()
		if err != nil {
			return err
		}
		if n < 1 {
			return syntaxErr("%s needs a positive number", key)
		}
		at := d.now().Add(-time.Duration(min(n, maxWithin)) * time.Second)
		if key == "OLDER" {
			c.Before = laterOf(c.Before, at.Add(time.Nanosecond), true)
		} else {
			c.Since = laterOf(c.Since, at, false)
		}
	case "LARGER", "SMALLER":
		n, err := number()
		if err != nil {
			return err
		}
		if key == "LARGER" {
			c.Larger = max(c.Larger, n)
		} else if c.Smaller == 0 || n < c.Smaller {
			c.Smaller = n
		}
	case "UID":
		if err := d.SP(); err != nil {
			return err
		}
		set, err := d.ReadNumSet(true)
		if err != nil {
			return err
		}
		if set.Saved {
			s.SavedRef = true
			c.UID = append(c.UID, imap.UIDSet{{Start: SavedMarker, Stop: SavedMarker}})
			return nil
		}
		c.UID = append(c.UID, set.Set.(imap.UIDSet))
	case "NOT":
		if err := d.SP(); err != nil {
			return err
		}
		var sub imap.SearchCriteria
		if err := d.readSearchKey(s, &sub, uid, depth+1); err != nil {
			return err
		}
		c.Not = append(c.Not, sub)
	case "OR":
		var pair [2]imap.SearchCriteria
		for i := range pair {
			if err := d.SP(); err != nil {
				return err
			}
			if err := d.readSearchKey(s, &pair[i], uid, depth+1); err != nil {
				return err
			}
		}
		c.Or = append(c.Or, pair)
	case "MODSEQ":
		if err := d.SP(); err != nil {
			return err
		}
		ms := &imap.SearchCriteriaModSeq{}
		if c, err := d.peek(); err != nil {
			return err
		} else if c == '"' {
			// An entry name and type (RFC 7162 §3.1.5); per-flag MODSEQs are not kept, so
			// they select like the message's MODSEQ.
			if ms.MetadataName, err = d.ReadQuoted(); err != nil {
				return err
			}
			if err := d.SP(); err != nil {
				return err
			}
			typ, err := d.ReadAtom()
			if err != nil {
				return err
			}
			switch t := imap.SearchCriteriaMetadataType(strings.ToLower(typ)); t {
			case imap.SearchCriteriaMetadataPrivate, imap.SearchCriteriaMetadataShared, imap.SearchCriteriaMetadataAll:
				ms.MetadataType = t
			default:
				return syntaxErr("bad MODSEQ entry type")
			}
			if err := d.SP(); err != nil {
				return err
			}
		}
		n, err := d.ReadNumber64()
		if err != nil {
			return err
		}
		ms.ModSeq = n
		if c.ModSeq == nil || n > c.ModSeq.ModSeq {
			c.ModSeq = ms
		}
	default:
		return syntaxErr("unknown search key %s", name)
	}
	return nil
}

// laterOf narrows a date bound: the earlier of two BEFOREs, the later of two SINCEs.
// maxWithin bounds OLDER and YOUNGER's seconds (a thousand years) so that they stay a
// time.Duration.
const maxWithin = 1000 * 366 * 24 * 3600

func (d *Decoder) now() time.Time {
	if d.opts.Now != nil {
		return d.opts.Now()
	}
	return time.Now()
}

func laterOf(cur, t time.Time, before bool) time.Time {
	if cur.IsZero() || before && t.Before(cur) || !before && t.After(cur) {
		return t
	}
	return cur
}

// peekWord returns up to max bytes ahead, stopping after a space or line end: it never
// waits for bytes past the end of the command's line.
func (d *Decoder) peekWord(max int) []byte {
	var b []byte
	for n := 1; n <= max; n++ {
		p, err := d.br.Peek(n)
		if err != nil {
			break
		}
		b = p
		if c := p[n-1]; c == ' ' || c == '\n' {
			break
		}
	}
	return b
}
