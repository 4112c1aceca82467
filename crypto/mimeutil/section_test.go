package mimeutil

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// Each message maps to its header section: the first empty line ends it, whatever line
// ending comes later.
var headerSections = map[string]string{
	"A: 1\r\nB: 2\r\n\r\nbody\r\n": "A: 1\r\nB: 2\r\n\r\n",
	"A: 1\nB: 2\n\nbody\n":         "A: 1\nB: 2\n\n",
	"A: 1\n\nbody\r\n\r\nmore":     "A: 1\n\n",
	"A: 1\r\n\nbody\r\n\r\n":       "A: 1\r\n\n",
	"\r\nbody":                     "\r\n",
	"A: 1\r\n folded\r\n":          "A: 1\r\n folded\r\n",
	"":                             "",
	"A: 1\r\n \r\nB: 2\r\n\r\n":    "A: 1\r\n \r\nB: 2\r\n\r\n", // white space is not empty
}

func TestHeaderEnd(t *testing.T) {
	for msg, header := range headerSections {
		if got := msg[:HeaderEnd([]byte(msg))]; got != header {
			t.Errorf("HeaderEnd(%q) = %q, want %q", msg, got, header)
		}
	}
}

func TestReadHeaderSection(t *testing.T) {
	// A line longer than the reader's buffer whose last fragment is a bare CRLF is not the
	// empty line.
	long := "X-Long: " + strings.Repeat("a", 4096-8) + "\r\n"
	msg := long + "B: 2\r\n\r\nbody"
	got, err := ReadHeaderSection(bufio.NewReaderSize(strings.NewReader(msg), 4096), 1<<20)
	if err != nil || string(got) != long+"B: 2\r\n\r\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = ReadHeaderSection(bufio.NewReaderSize(strings.NewReader("A: 1\r\nB: 2"), 16), 1<<20)
	if err != nil || string(got) != "A: 1\r\nB: 2" {
		t.Fatalf("without an empty line: %q, %v", got, err)
	}
	_, err = ReadHeaderSection(bufio.NewReader(strings.NewReader(strings.Repeat("A: 1\r\n", 100))), 100)
	if err != ErrHeaderTooLarge {
		t.Fatalf("over the bound: %v", err)
	}
}

func TestRemoveFields(t *testing.T) {
	dropX := func(name, value []byte) bool { return bytes.EqualFold(name, []byte("X-Drop")) }
	cases := []struct {
		name, in, want string
		removed        int
	}{
		{"nothing to drop", "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n\r\nbody\r\n", 0},
		{"first field", "x-drop: 1\r\nB: 2\r\n\r\nbody\r\n", "B: 2\r\n\r\nbody\r\n", 1},
		{"folded, in the middle", "A: 1\r\nX-Drop: a\r\n\tb\r\n c\r\nB: 2\r\n\r\nX-Drop: in body\r\n", "A: 1\r\nB: 2\r\n\r\nX-Drop: in body\r\n", 1},
		{"last field, twice", "A: 1\r\nX-Drop: a\r\nX-DROP : b\r\n\r\n", "A: 1\r\n\r\n", 2},
		{"bare LF", "A: 1\nX-Drop: a\n b\nB: 2\n\nbody\n", "A: 1\nB: 2\n\nbody\n", 1},
		{"header only, no final newline", "A: 1\r\nX-Drop: a", "A: 1\r\n", 1},
		{"no colon line kept", "A: 1\r\nnot a field\r\nX-Drop: a\r\n\r\n", "A: 1\r\nnot a field\r\n\r\n", 1},
	}
	for _, tc := range cases {
		in := []byte(tc.in)
		out, n := RemoveFields(in, dropX)
		if string(out) != tc.want || n != tc.removed {
			t.Errorf("%s: got %q (%d removed), want %q (%d)", tc.name, out, n, tc.want, tc.removed)
		}
		if n == 0 && &out[0] != &in[0] {
			t.Errorf("%s: nothing removed, but the message was copied", tc.name)
		}
	}
	// The callback sees trimmed name and value.
	var seen []string
	RemoveFields([]byte("Authentication-Results :  mx.test; spf=pass \r\n\r\n"), func(name, value []byte) bool {
		seen = append(seen, string(name)+"|"+string(value))
		return false
	})
	if strings.Join(seen, ",") != "Authentication-Results|mx.test; spf=pass" {
		t.Errorf("callback saw %q", seen)
	}
}

func TestParseContentType(t *testing.T) {
	for _, c := range []struct{ v, mt, param string }{
		{"", "text/plain", ""},
		{`Multipart/Signed; Protocol="application/pgp-signature"; micalg=pgp-sha256`, "multipart/signed", "application/pgp-signature"},
		{`multipart/signed; protocol=application/pgp-signature; bad`, "multipart/signed", "application/pgp-signature"},
	} {
		mt, params := ParseContentType(c.v)
		if mt != c.mt || params["protocol"] != c.param {
			t.Errorf("%q: %q %q", c.v, mt, params)
		}
	}
}

// FuzzHeaderSection holds the one end-of-header rule across every form of it: whole content,
// a stream in any chunks, a reader, the entity split, field parsing and removal.
func FuzzHeaderSection(f *testing.F) {
	for _, s := range []string{
		"A: 1\r\nB: 2\r\n\r\nbody", "A: 1\n\nbody\r\n\r\n", "\r\n", "A: 1\r\n folded\r\n\tmore\r\n\r\n",
		"A: 1\r\r\n\r\n", "no colon\r\n\r\nx", "",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint8) {
		n := HeaderEnd(msg)
		want := len(msg) // the first line with nothing but CRs before its LF ends the section
		for off := 0; off < len(msg); {
			e := off + lineEnd(msg[off:])
			if line := msg[off:e]; line[len(line)-1] == '\n' && len(bytes.Trim(line, "\r\n")) == 0 {
				want = e
				break
			}
			off = e
		}
		if n != want {
			t.Fatalf("HeaderEnd %d, want %d", n, want)
		}
		header, body := SplitHeader(msg)
		if len(header) != n || !bytes.Equal(append(append([]byte(nil), header...), body...), msg) {
			t.Fatal("SplitHeader does not split at HeaderEnd")
		}
		if bytes.Contains(header[:max(0, len(header)-1)], []byte("\n\n")) || bytes.Contains(header[:max(0, len(header)-1)], []byte("\n\r\n")) {
			t.Fatalf("an empty line inside the header section %q", header)
		}
		var w HeaderWatcher
		step := int(chunk%16) + 1
		for i := 0; i < len(msg); i += step {
			w.Write(msg[i:min(i+step, len(msg))])
		}
		if w.Size() != int64(n) {
			t.Fatalf("the watcher finds %d in chunks of %d, HeaderEnd %d", w.Size(), step, n)
		}
		read, err := ReadHeaderSection(bufio.NewReaderSize(bytes.NewReader(msg), 16), len(msg)+1)
		if err != nil || !bytes.Equal(read, header) {
			t.Fatalf("ReadHeaderSection %q, %v; want %q", read, err, header)
		}
		eh, eb := SplitEntity(msg)
		if !bytes.Equal(eb, body) || !bytes.HasPrefix(header, eh) || (eb == nil) == w.Done() {
			t.Fatal("SplitEntity disagrees with SplitHeader")
		}
		var joined []byte
		for _, fl := range ParseHeader(eh).Fields {
			joined = append(joined, fl.Raw...)
		}
		if !bytes.Equal(joined, eh) {
			t.Fatal("ParseHeader loses bytes")
		}
		out, removed := RemoveFields(msg, func(name, _ []byte) bool { return len(name)%2 == 1 })
		if !bytes.HasSuffix(out, body) || removed == 0 && !bytes.Equal(out, msg) {
			t.Fatal("RemoveFields changed more than header fields")
		}
		ParseTextprotoHeader(msg) // must not panic
		kept, _ := RemoveFields(msg, func([]byte, []byte) bool { return false })
		if !bytes.Equal(kept, msg) {
			t.Fatal("RemoveFields removing nothing changed the message")
		}
	})
}
