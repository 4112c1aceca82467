package mimeutil

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCharsetReader(t *testing.T) {
	for _, c := range []struct{ charset, in, want string }{
		{"", "plain", "plain"},
		{"UTF-8", "grüße", "grüße"},
		{"us-ascii", "abc", "abc"},
		{"ISO-8859-1", "gr\xfc\xdfe", "grüße"},
		{"latin1", "\xe9", "é"},
		{"windows-1252", "\x80", "€"},
		{"iso-8859-15", "\xa4", "€"},
		{"koi8-r", "\xf0\xd2\xc9", "При"},
		{"shift_jis", "\x93\xfa\x96\x7b", "日本"},
	} {
		r, err := CharsetReader(c.charset, strings.NewReader(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.charset, err)
			continue
		}
		if got, _ := io.ReadAll(r); string(got) != c.want {
			t.Errorf("%s: %q, want %q", c.charset, got, c.want)
		}
	}
	if _, err := CharsetReader("x-no-such-charset", strings.NewReader("x")); !errors.Is(err, ErrUnknownCharset) {
		t.Errorf("unknown charset: %v", err)
	}
}

func TestDecodeWords(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                              "plain",
		"=?utf-8?b?R3LDvMOfZQ==?=":           "Grüße",
		"=?iso-8859-1?q?J=F6rg?= M":          "Jörg M",
		"=?windows-1252?q?=80?=":             "€",
		"=?x-unknown?q?abc?=":                "=?x-unknown?q?abc?=",
		"=?utf-8?q?a?= =?utf-8?q?b?=":        "ab",
		"=?utf-8?b?not base64?= stays as is": "=?utf-8?b?not base64?= stays as is",
	} {
		if got := DecodeWords(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
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

func TestContentDisposition(t *testing.T) {
	for _, c := range []struct{ field, disp, filename string }{
		{"", "", ""},
		{"Content-Disposition: inline\r\n", "inline", ""},
		{"Content-Disposition: Attachment; filename=\"a b.txt\"\r\n", "attachment", "a b.txt"},
		{"Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\n", "attachment", "Résumé.pdf"},
		{"Content-Disposition: attachment; filename=\"=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=\"\r\n", "attachment", "Résumé.pdf"},
		{"Content-Disposition: attachment; filename=a b.txt; size=\r\n", "attachment", "a b.txt"}, // lenient
	} {
		disp, params := ParseHeader([]byte("Subject: x\r\n" + c.field)).ContentDisposition()
		if disp != c.disp || params["filename"] != c.filename {
			t.Errorf("%q: %q %q", c.field, disp, params)
		}
	}
}

func TestEntityText(t *testing.T) {
	for _, c := range []struct {
		msg, want string
		unknown   bool
	}{
		{"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe", "Grüße", false},
		{"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LD\r\nvMOfZQ==\r\n", "Grüße", false},
		{"Content-Type: text/plain; charset=x-unknown\r\n\r\n\xfc", "\xfc", true},
		{"Content-Type: application/octet-stream; charset=iso-8859-1\r\n\r\n\xfc", "\xfc", false}, // not text: bytes as they are
		{"\r\nno header", "no header", false},
	} {
		got, err := ParseEntity([]byte(c.msg)).Text()
		if string(got) != c.want || errors.Is(err, ErrUnknownCharset) != c.unknown || err != nil && !c.unknown {
			t.Errorf("%q: %q, %v", c.msg, got, err)
		}
	}
}

// FuzzText: what a reader is shown of any header and entity is valid UTF-8 once decoded from
// a known charset, and nothing panics.
func FuzzText(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe",
		"Content-Type: text/plain; charset=shift_jis\r\nContent-Disposition: attachment; filename==?utf-8?q?a?=\r\n\r\n\x93\xfa",
		"From: =?koi8-r?q?=F0?= <a@b>, c@d\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?=\r\n\r\n",
		"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n//5hAA==",
	} {
		f.Add([]byte(s))
	}
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
