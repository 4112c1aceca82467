package sortthread

import (
	"strconv"
	"testing"
)

// The rows are the address forms of imaptest's sort-addresses, sort-display-from and
// sort-display-to messages, and the forms Dovecot's envelope parser accepts.
func TestFirstAddress(t *testing.T) {
	tests := []struct {
		value   string
		want    Address
		display string
	}{
		{"", Address{}, ""},
		{"user2@domain2.org", Address{Mailbox: "user2", Host: "domain2.org"}, "user2@domain2.org"},
		{"foo bar <user2@domain2.org>", Address{Name: "foo bar", Mailbox: "user2", Host: "domain2.org"}, "foo bar"},
		{"user2@domain2.org (foo bar)", Address{Name: "foo bar", Mailbox: "user2", Host: "domain2.org"}, "foo bar"},
		{"<a@b.c> (comment)", Address{Name: "comment", Mailbox: "a", Host: "b.c"}, "comment"},
		{`"Doe, John" <john@x.org>, other@y.org`, Address{Name: "Doe, John", Mailbox: "john", Host: "x.org"}, "Doe, John"},
		{`"john doe"@x.org`, Address{Mailbox: "john doe", Host: "x.org"}, "john doe@x.org"},
		{"=?iso-8859-1?q?foo_aar?= <e@f.g>", Address{Name: "=?iso-8859-1?q?foo_aar?=", Mailbox: "e", Host: "f.g"}, "foo aar"},
		{"d", Address{Mailbox: "d", Host: "MISSING_DOMAIN"}, "d@MISSING_DOMAIN"},
		{"<d>", Address{Mailbox: "d", Host: "MISSING_DOMAIN"}, "d@MISSING_DOMAIN"},
		{"user2: blah@domain1.org;", Address{Mailbox: "user2"}, "user2"},
		{"a: xx@xx.org, yy@yy.org;", Address{Mailbox: "a"}, "a"},
		{"empty:;", Address{Mailbox: "empty"}, "empty"},
		{"undisclosed-recipients:;", Address{Mailbox: "undisclosed-recipients"}, "undisclosed-recipients"},
		{", , second@x.org", Address{Mailbox: "second", Host: "x.org"}, "second@x.org"},
		{"Name <@route1,@route2:user@host>", Address{Name: "Name", Mailbox: "user", Host: "host"}, "Name"},
		{"Name <user@host", Address{Name: "Name", Mailbox: "user", Host: "host"}, "Name"},
		{"first.last@sub.example.com", Address{Mailbox: "first.last", Host: "sub.example.com"}, "first.last@sub.example.com"},
		{"x@[192.0.2.1]", Address{Mailbox: "x", Host: "[192.0.2.1]"}, "x@[192.0.2.1]"},
		{"(only a comment)", Address{}, ""},
		{"<>", Address{}, ""},
	}
	for _, tt := range tests {
		got := FirstAddress(tt.value)
		if got != tt.want {
			t.Errorf("FirstAddress(%q) = %+v, want %+v", tt.value, got, tt.want)
		}
		if d := got.Display(); d != tt.display {
			t.Errorf("FirstAddress(%q).Display() = %q, want %q", tt.value, d, tt.display)
		}
	}
}

func TestParseHeader(t *testing.T) {
	raw := "Subject: first\r\n" +
		"Subject: second\r\n" +
		"From: A <a@x.org>\r\n" +
		"to: b@y.org\r\n" +
		"CC: group: c@z.org;\r\n" +
		"Date: Fri, 22 Feb 2008 02:00:00 +0200 (EET)\r\n" +
		"Message-ID:\r\n <id@x.org>\r\n" +
		"References: <r1@x.org>\r\n\t<r2@x.org>\r\n" +
		"In-Reply-To: <r2@x.org>\r\n" +
		"not a header line\r\n" +
		"\r\n" +
		"Subject: in the body\r\n"
	var m Message
	m.ParseHeader([]byte(raw))
	if m.Subject != "first" || m.From.Mailbox != "a" || m.To.Host != "y.org" || m.Cc.Mailbox != "group" {
		t.Errorf("fields: %+v", m)
	}
	if m.Date.Unix() != 1203638400 {
		t.Errorf("Date = %v", m.Date)
	}
	if m.messageID() != "id@x.org" {
		t.Errorf("message ID %q", m.messageID())
	}
	if refs := m.references(nil); len(refs) != 2 || refs[1] != "r2@x.org" {
		t.Errorf("references %q", refs)
	}
	var bad Message
	bad.ParseHeader([]byte("Date: yesterday\n\n"))
	if !bad.Date.IsZero() {
		t.Errorf("unparsable Date gave %v", bad.Date)
	}
}

func TestMessageIDs(t *testing.T) {
	tests := []struct {
		refs, inReplyTo string
		want            []string
	}{
		{"<a@b> <c@d>", "<x@y>", []string{"a@b", "c@d"}},
		{"", "<x@y> <z@w>", []string{"x@y"}},
		{"garbage <nohost> <>", "Your message of today <x@y>", []string{"x@y"}},
		{"<a @ b>", "", []string{"a@b"}},
		{"<a@b", "", nil},
		{"<<a@b>", "", []string{"<a@b"}},
		{"<a@> <@b>", "", []string{"a@", "@b"}},
		{`<"q x"@b> <c (comment) @ d.e>`, "", []string{"q x@b", "c@d.e"}},
		{"<a@[1.2.3.4]> <e@f>", "", []string{"a@[1.2.3.4]", "e@f"}},
		{"<a@[1.2.3.4> <e@f>", "", []string{"e@f"}},
		{"<a@b> (sent by x)", "", []string{"a@b"}},
	}
	for _, tt := range tests {
		m := Message{References: tt.refs, InReplyTo: tt.inReplyTo}
		got := m.references(nil)
		if len(got) != len(tt.want) {
			t.Errorf("%q/%q: %q, want %q", tt.refs, tt.inReplyTo, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q/%q: %q, want %q", tt.refs, tt.inReplyTo, got, tt.want)
			}
		}
	}
}

func TestReferencesBounded(t *testing.T) {
	refs := ""
	for i := range 1000 {
		refs += "<r" + strconv.Itoa(i) + "@x>\r\n "
	}
	got := (&Message{References: refs}).references(nil)
	if len(got) != MaxReferences || got[0] != "r0@x" || got[len(got)-1] != "r999@x" || got[1] != "r"+strconv.Itoa(1000-MaxReferences+1)+"@x" {
		t.Fatalf("%d refs, first %q, second %q, last %q", len(got), got[0], got[1], got[len(got)-1])
	}
}
