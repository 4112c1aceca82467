package mimeutil

import (
	"bytes"
	"strings"
	"testing"
)

func TestCRLFWriter(t *testing.T) {
	for _, chunks := range [][]string{
		{"a\nb\r\nc\n"},
		{"a\r", "\nb\n", "\n"},
		{"\n", "\r\n", "x"},
	} {
		var out bytes.Buffer
		w := &CRLFWriter{W: &out}
		var all string
		for _, c := range chunks {
			w.Write([]byte(c))
			all += c
		}
		if got, want := out.String(), string(CanonicalCRLF([]byte(all))); got != want {
			t.Errorf("%q: got %q want %q", chunks, got, want)
		}
	}
}

func TestSplitMultipartKeepsBytes(t *testing.T) {
	body := []byte("preamble\r\n--b\r\nA: 1\r\n\r\npart one\r\n\r\n--b\r\n\r\npart two\n--b--\r\nepilogue")
	parts, err := SplitMultipart(body, "b")
	if err != nil || len(parts) != 2 {
		t.Fatal(err, len(parts))
	}
	if string(parts[0]) != "A: 1\r\n\r\npart one\r\n" || string(parts[1]) != "\r\npart two" {
		t.Fatalf("%q", parts)
	}
	if _, err := SplitMultipart([]byte("no delimiters"), "b"); err == nil {
		t.Fatal("no error")
	}
}

// TestScanFields: fields in order with unfolded, trimmed values; a line without a colon is
// skipped; the empty line ends the header section even when the body starts with white
// space.
func TestScanFields(t *testing.T) {
	raw := "Subject:  a\r\n\tb \r\nno colon here\r\nX-Empty:\r\nTo: c\n\n d: not a field\r\n"
	var got []string
	ScanFields([]byte(raw), func(name, value []byte) {
		got = append(got, string(name)+"="+string(value))
	})
	want := []string{"Subject=a\tb", "X-Empty=", "To=c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("fields %q, want %q", got, want)
	}
	if v := ParseHeader([]byte("Subject:  a\r\n\tb \r\n")).Get("subject"); v != "a\tb" {
		t.Errorf("Get %q: not the value ScanFields gives", v)
	}
}
