package mimeutil

import (
	"bytes"
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
