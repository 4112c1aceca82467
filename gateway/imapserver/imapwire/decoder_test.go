package imapwire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// slowReader hands out a few bytes per Read, as a network does.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	if len(p) > 3 {
		p = p[:3]
	}
	return s.r.Read(p)
}

func newTestDecoder(in string, opts Options) (*Decoder, *int) {
	conts := new(int)
	if opts.Continue == nil {
		opts.Continue = func() error { *conts++; return nil }
	}
	return NewDecoder(slowReader{strings.NewReader(in)}, opts), conts
}

// readLogin reads "tag LOGIN astring astring" as a session would.
func readLogin(t *testing.T, d *Decoder) (tag, user, pass string, err error) {
	t.Helper()
	d.Begin()
	if tag, err = d.ReadTag(); err != nil {
		return
	}
	if err = d.SP(); err != nil {
		return
	}
	var name string
	if name, err = d.ReadAtom(); err != nil {
		return
	}
	if !strings.EqualFold(name, "LOGIN") {
		err = &CommandError{Msg: "not LOGIN"}
		return
	}
	if err = d.SP(); err != nil {
		return
	}
	if user, err = d.ReadAString(100); err != nil {
		return
	}
	if err = d.SP(); err != nil {
		return
	}
	if pass, err = d.ReadAString(100); err != nil {
		return
	}
	err = d.CRLF()
	return
}

func TestDecoderStringForms(t *testing.T) {
	for _, tc := range []struct {
		in, user, pass string
		conts          int
	}{
		{"a LOGIN alice secret\r\n", "alice", "secret", 0},
		{"a LOGIN \"al\\\"ice\" \"s p\"\r\n", "al\"ice", "s p", 0},
		{"a LOGIN {5}\r\nalice {2}\r\npw\r\n", "alice", "pw", 2},
		{"a LOGIN {5+}\r\nalice {2+}\r\npw\r\n", "alice", "pw", 0},
		{"a LOGIN ~{5+}\r\nalice ~foo\r\n", "alice", "~foo", 0},
		{"a LOGIN alice pw\n", "alice", "pw", 0},
		{"a LOGIN \"\" {0+}\r\n\r\n", "", "", 0},
	} {
		d, conts := newTestDecoder(tc.in, Options{})
		_, user, pass, err := readLogin(t, d)
		if err != nil || user != tc.user || pass != tc.pass || *conts != tc.conts {
			t.Errorf("%q: got %q %q %v, %d continuations", tc.in, user, pass, err, *conts)
		}
	}
}

// A refused literal's bytes are never read as a command, whatever its form; the next
// command is read as sent.
func TestDecoderDiscardsRefusedLiteral(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"non-sync over limit", "a LOGIN {500+}\r\n" + strings.Repeat("x", 200) + "\r\nz1 CREATE X\r\n" + strings.Repeat("y", 298) + " pw\r\n"},
		{"sync over limit", "a LOGIN {500}\r\n"},
		{"non-sync then another", "a LOGIN {500+}\r\n" + strings.Repeat("z2 DELETE INBOX\r\n", 29) + "abcdefg {4+}\r\nz3 X\r\n"},
		{"syntax error before a literal", "a LOGIN (x {10+}\r\nz4 LOGOUT\r\n"},
		{"syntax error after a literal", "a LOGIN {3+}\r\nabc ) {6+}\r\nz5 FOO\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, conts := newTestDecoder(tc.in+"b LOGIN bob pw\r\n", Options{})
			_, _, _, err := readLogin(t, d)
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("first command: %v, want a command error", err)
			}
			if err := d.Discard(); err != nil {
				t.Fatalf("Discard: %v", err)
			}
			tag, user, _, err := readLogin(t, d)
			if err != nil || tag != "b" || user != "bob" {
				t.Fatalf("next command: %q %q %v", tag, user, err)
			}
			if *conts != 0 {
				t.Errorf("%d continuation requests for a refused literal", *conts)
			}
		})
	}
}

func TestDecoderRefusedLiteralTooLargeToSkip(t *testing.T) {
	d, _ := newTestDecoder("a LOGIN {5000+}\r\n"+strings.Repeat("x", 5000), Options{MaxSkip: 1000})
	_, _, _, err := readLogin(t, d)
	if !IsCommandError(err) {
		t.Fatalf("got %v", err)
	}
	if err := d.Discard(); !errors.Is(err, ErrLiteralTooLarge) {
		t.Fatalf("Discard: %v, want ErrLiteralTooLarge", err)
	}
}

func TestDecoderLineLimit(t *testing.T) {
	long := strings.Repeat("a", 300)
	d, _ := newTestDecoder("a LOGIN "+long+" pw\r\nb LOGIN bob pw\r\n", Options{MaxLine: 100})
	if _, _, _, err := readLogin(t, d); !IsCommandError(err) {
		t.Fatalf("long line: %v", err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if tag, user, _, err := readLogin(t, d); err != nil || tag != "b" || user != "bob" {
		t.Fatalf("after a long line: %q %q %v", tag, user, err)
	}
}

// An APPEND literal is streamed, not buffered, and a failure after the command's end does
// not eat the next command.
func TestDecoderStreamsLiteral(t *testing.T) {
	body := strings.Repeat("line\r\n", 10000)
	d, conts := newTestDecoder("a APPEND INBOX {60000}\r\n"+body+"\r\nb NOOP\r\n", Options{})
	d.Begin()
	for _, step := range []func() error{
		func() error { _, err := d.ReadTag(); return err },
		d.SP,
		func() error { _, err := d.ReadAtom(); return err },
		d.SP,
		func() error { _, err := d.ReadAString(10); return err },
		d.SP,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	l, err := d.ReadLiteralHeader()
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.AcceptLiteral(l, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := io.Copy(&got, r); err != nil || got.String() != body || *conts != 1 {
		t.Fatalf("literal: %d bytes, %v, %d continuations", got.Len(), err, *conts)
	}
	if err := d.CRLF(); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(); err != nil { // a semantic refusal after the whole command
		t.Fatal(err)
	}
	d.Begin()
	if tag, err := d.ReadTag(); err != nil || tag != "b" {
		t.Fatalf("next: %q %v", tag, err)
	}
}

func TestDecoderListAndNumbers(t *testing.T) {
	d, _ := newTestDecoder("(\\Seen $Label1) 4294967295 4294967296 9223372036854775807\r\n", Options{})
	var flags []string
	err := d.ReadList(func() error {
		a, err := d.ReadChars("flag", func(c byte) bool { return IsAtomChar(c) || c == '\\' })
		flags = append(flags, a)
		return err
	})
	if err != nil || strings.Join(flags, ",") != "\\Seen,$Label1" {
		t.Fatalf("list: %v %v", flags, err)
	}
	d.SP()
	if n, err := d.ReadNumber(); err != nil || n != 1<<32-1 {
		t.Fatalf("number: %d %v", n, err)
	}
	d.SP()
	if _, err := d.ReadNumber(); !IsCommandError(err) {
		t.Fatalf("2^32: %v", err)
	}
	d.SP()
	if n, err := d.ReadNumber64(); err != nil || n != 1<<63-1 {
		t.Fatalf("number64: %d %v", n, err)
	}
}

func TestDecoderReadLine(t *testing.T) {
	d, _ := newTestDecoder("DONE\r\n"+strings.Repeat("x", 200)+"\r\ndGVzdA==\r\n", Options{MaxLine: 100})
	if s, err := d.ReadLine(); err != nil || s != "DONE" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := d.ReadLine(); !IsCommandError(err) {
		t.Fatalf("long line: %v", err)
	}
	if s, err := d.ReadLine(); err != nil || s != "dGVzdA==" {
		t.Fatalf("after a long line: %q %v", s, err)
	}
}
