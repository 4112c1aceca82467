package imapwire

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestReadFetch(t *testing.T) {
	d, _ := newTestDecoder("(UID FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From \"X y\")]<0.100> BINARY[2]<5.10> RFC822.HEADER MODSEQ) (CHANGEDSINCE 12 VANISHED)\r\n", Options{})
	f, err := d.ReadFetch()
	if err != nil {
		t.Fatal(err)
	}
	o := f.Options
	if !o.UID || !o.Flags || !o.ModSeq || o.ChangedSince != 12 || !f.Vanished || len(o.BodySection) != 2 || len(o.BinarySection) != 1 {
		t.Fatalf("%+v", f)
	}
	sec := o.BodySection[0]
	if !sec.Peek || SectionName(sec) != `1.2.HEADER.FIELDS (From "X y")` || sec.Partial.Offset != 0 || sec.Partial.Size != 100 {
		t.Fatalf("section %+v named %q", sec, SectionName(sec))
	}
	if f.Labels[o.BodySection[1]] != "RFC822.HEADER" || o.BinarySection[0].Partial.Offset != 5 {
		t.Fatalf("%+v", f)
	}
}

func TestReadSearch(t *testing.T) {
	d, _ := newTestDecoder("RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR FROM alice (UNSEEN LARGER 10) NOT KEYWORD $x 1:3 $ MODSEQ 5 ON 3-Feb-2024\r\n", Options{})
	s, err := d.ReadSearch(false)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Criteria
	if !s.SavedRef || !s.Extended || !s.Return.ReturnMin || !s.Return.ReturnCount || !s.Return.ReturnSave || s.Charset != "UTF-8" {
		t.Fatalf("%+v", s)
	}
	if len(c.Or) != 1 || c.Or[0][0].Header[0].Key != "From" || c.Or[0][1].Larger != 10 || len(c.Not) != 1 || c.ModSeq.ModSeq != 5 {
		t.Fatalf("%+v", c)
	}
	if c.Since.Format("2006-01-02") != "2024-02-03" || c.Before.Format("2006-01-02") != "2024-02-04" {
		t.Fatalf("ON: %v %v", c.Since, c.Before)
	}
	for _, bad := range []string{"\r\n", "FROM\r\n", "BEFORE 31-Foo-2020\r\n", "UID 0\r\n", strings.Repeat("NOT ", 40) + "ALL\r\n"} {
		d, _ := newTestDecoder(bad, Options{})
		if _, err := d.ReadSearch(false); !IsCommandError(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestReadSelectQResync(t *testing.T) {
	d, _ := newTestDecoder(" (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:3 4,5,6)))\r\n", Options{})
	sp, err := d.ReadSelectParams()
	if err != nil {
		t.Fatal(err)
	}
	q := sp.QResync
	if q == nil || q.UIDValidity != 67890007 || q.ModSeq != 20050715194045000 || !q.KnownUIDs.Contains(imap.UID(300)) || len(q.SeqMatchUIDs) != 3 {
		t.Fatalf("%+v", q)
	}
}

// FuzzArgs: the typed parsers never panic and every failure is a command error or the
// end of input.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{
		"(FLAGS BODY[1.MIME] BINARY.SIZE[1])\r\n", "ALL (CHANGEDSINCE 1)\r\n",
		"OR (SEEN) NOT 1:* UID $\r\n", "RETURN () ALL\r\n",
		"(SUBSCRIBED RECURSIVEMATCH) \"\" (% \"*\") RETURN (STATUS (MESSAGES SIZE) CHILDREN)\r\n",
		"(UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $x)\r\n", " (CONDSTORE)\r\n",
		"(\"name\" \"x\" \"version\" NIL)\r\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, which uint8) {
		d := NewDecoder(strings.NewReader(string(in)), Options{MaxLine: 4096, Continue: func() error { return nil }})
		var err error
		switch which % 7 {
		case 0:
			_, err = d.ReadFetch()
		case 1:
			_, err = d.ReadSearch(which&8 != 0)
		case 2:
			_, err = d.ReadListArgs()
		case 3:
			_, err = d.ReadStore()
		case 4:
			_, err = d.ReadSelectParams()
		case 5:
			_, err = d.ReadIDParams()
		case 6:
			_, err = d.ReadNumSet(true)
		}
		if err != nil && !IsCommandError(err) && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("%v", err)
		}
	})
}

// WITHIN (RFC 5032): OLDER and YOUNGER become instants counted back from the decoder's
// clock, joined with SINCE/BEFORE as the later or earlier bound; a zero is refused.
func TestReadSearchWithin(t *testing.T) {
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	d, _ := newTestDecoder("OLDER 3600 YOUNGER 86400 SINCE 1-Mar-2024 BEFORE 1-Apr-2024\r\n", Options{Now: func() time.Time { return now }})
	s, err := d.ReadSearch(false)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Criteria
	// OLDER 3600 takes 11:00:00 itself: the bound, exclusive, is just after it.
	if want := now.Add(-time.Hour); !c.Before.After(want) || c.Before.After(want.Add(time.Millisecond)) {
		t.Errorf("OLDER: before %v", c.Before)
	}
	if want := now.Add(-24 * time.Hour); !c.Since.Equal(want) {
		t.Errorf("YOUNGER: since %v, want %v", c.Since, want)
	}
	for _, bad := range []string{"OLDER 0\r\n", "YOUNGER\r\n", "YOUNGER -5\r\n"} {
		d, _ := newTestDecoder(bad, Options{Now: func() time.Time { return now }})
		if _, err := d.ReadSearch(false); !IsCommandError(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
