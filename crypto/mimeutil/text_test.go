package mimeutil

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// Each entity tries a decoding a reader needs: its text in UTF-8 (Entity.Text), its Subject
// (DecodeWords) and its disposition.
var textCases = []struct {
	msg, text, subject string
	disp, filename     string
	unknownCharset     bool
}{
	{msg: "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe", text: "Grüße"},
	{msg: "Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LD\r\nvMOfZQ==\r\n",
		text: "Grüße", subject: "Grüße"},
	{msg: "Subject: =?iso-8859-1?q?J=F6rg?= M\r\nContent-Type: text/plain; charset=latin1\r\n\r\n\xe9", text: "é", subject: "Jörg M"},
	{msg: "Subject: =?windows-1252?q?=80?=\r\nContent-Type: text/plain; charset=windows-1252\r\n\r\n\x80", text: "€", subject: "€"},
	{msg: "Subject: =?utf-8?q?a?= =?iso-8859-15?q?=A4?=\r\nContent-Type: text/plain; charset=\"koi8-r\"\r\n\r\n\xf0\xd2\xc9", text: "При", subject: "a€"},
	{msg: "Content-Type: text/plain; charset=shift_jis\r\nContent-Disposition: Attachment; filename=\"=?utf-8?q?R=C3=A9sum=C3=A9.txt?=\"\r\n\r\n\x93\xfa\x96\x7b",
		text: "日本", disp: "attachment", filename: "Résumé.txt"},
	{msg: "Content-Type: text/plain; charset=x-unknown\r\nContent-Disposition: inline\r\n\r\n\xfc", text: "\xfc", disp: "inline", unknownCharset: true},
	{msg: "Subject: =?x-unknown?q?abc?=\r\nContent-Type: application/octet-stream; charset=iso-8859-1\r\n\r\n\xfc", text: "\xfc", subject: "=?x-unknown?q?abc?="},
	{msg: "Subject: =?utf-8?b?not base64?= as is\r\nContent-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\n\r\nx",
		text: "x", subject: "=?utf-8?b?not base64?= as is", disp: "attachment", filename: "Résumé.pdf"},
	{msg: "Content-Disposition: attachment; filename=a b.txt; size=\r\n\r\n", disp: "attachment", filename: "a b.txt"}, // read leniently
	{msg: "\r\nno header", text: "no header"},
}

func TestText(t *testing.T) {
	for _, c := range textCases {
		e := ParseEntity([]byte(c.msg))
		text, err := e.Text()
		if string(text) != c.text || errors.Is(err, ErrUnknownCharset) != c.unknownCharset || err != nil && !c.unknownCharset {
			t.Errorf("%q: text %q, %v", c.msg, text, err)
		}
		if got := DecodeWords(e.Header.Get("Subject")); got != c.subject {
			t.Errorf("%q: subject %q", c.msg, got)
		}
		if disp, params := e.Header.ContentDisposition(); disp != c.disp || params["filename"] != c.filename {
			t.Errorf("%q: disposition %q %q", c.msg, disp, params)
		}
	}
	if _, err := CharsetReader("x-no-such-charset", strings.NewReader("x")); !errors.Is(err, ErrUnknownCharset) {
		t.Errorf("unknown charset: %v", err)
	}
}

func TestParseAddressList(t *testing.T) {
	list, err := ParseAddressList("=?iso-8859-1?q?J=F6rg?= <j@example.org>, \"B, Bee\" <b@example.org>, c@example.org")
	if err != nil || len(list) != 3 || list[0].Name != "Jörg" || list[1].Name != "B, Bee" || list[2].Address != "c@example.org" {
		t.Fatalf("%v %v", list, err)
	}
	if list, err := ParseAddressList("  "); list != nil || err != nil {
		t.Fatalf("empty: %v %v", list, err)
	}
	if _, err := ParseAddressList("not an address"); err == nil {
		t.Fatal("no error for a value that is no address")
	}
}

// FuzzText: what a reader is shown of any entity is valid UTF-8 once decoded from a known
// charset, and nothing panics.
func FuzzText(f *testing.F) {
	for _, c := range textCases {
		f.Add([]byte(c.msg))
	}
	f.Add([]byte("From: =?koi8-r?q?=F0?= <a@b>, c@d\r\nContent-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n//5hAA=="))
	f.Fuzz(func(t *testing.T, msg []byte) {
		e := ParseEntity(msg)
		e.Header.ContentDisposition()
		ParseAddressList(e.Header.Get("From"))
		DecodeWords(e.Header.Get("Subject"))
		text, err := e.Text()
		cs := e.Params["charset"]
		if enc, _ := lookupCharset(cs); err == nil && enc != nil && strings.HasPrefix(e.MediaType, "text/") && !utf8.Valid(text) {
			t.Fatalf("text from %s is not UTF-8: %q", cs, text)
		}
	})
}

func TestMsgIDList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"<a@b>", []string{"a@b"}, false},
		{" (c) <a.b@[127.0.0.1]> (d) <x@y>", []string{"a.b@[127.0.0.1]", "x@y"}, false},
		{"<a@b>(x)<c@d>", []string{"a@b", "c@d"}, false},
		{"<ü@例え.jp>", []string{"ü@例え.jp"}, false},
		{"<x@y> junk <z@w>", []string{"x@y"}, true},
		{"<a@b> (unclosed", nil, true},
		{"no-brackets@example.org", nil, true},
		{"<@b>", nil, true},
		{"<a@>", nil, true},
		{"<a@b", nil, true},
		{"<\xff@b>", nil, true},
		{"<a@[\xff]>", nil, true},
		{"<a@[]>", []string{"a@[]"}, false},
		{`<a\b@c>`, nil, true},
	} {
		got, err := MsgIDList(tc.in)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") || (err != nil) != tc.bad {
			t.Errorf("MsgIDList(%q) = %q, %v; want %q, bad %v", tc.in, got, err, tc.want, tc.bad)
		}
		if err != nil && !errors.Is(err, ErrBadMsgID) {
			t.Errorf("MsgIDList(%q): error %v is not ErrBadMsgID", tc.in, err)
		}
	}
	if id, err := MsgID(" <only@one> "); id != "only@one" || err != nil {
		t.Errorf("MsgID = %q, %v", id, err)
	}
}

// FuzzMsgIDList: every identifier found is "left@right", valid UTF-8, and stands in the input.
func FuzzMsgIDList(f *testing.F) {
	for _, s := range []string{"<a@b>", "(c) <a@[1.2.3.4]> <x@y>", "<a@b> (", "<ü@例>", "<<@>>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ids, _ := MsgIDList(v)
		for _, id := range ids {
			if !strings.Contains(id, "@") || !utf8.ValidString(id) || !strings.Contains(v, "<"+id+">") {
				t.Fatalf("MsgIDList(%q) gave %q", v, id)
			}
		}
	})
}
