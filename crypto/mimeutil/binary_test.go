package mimeutil

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

var binaryCases = []struct {
	name  string
	msg   string
	parts []int
	want  string // the re-encoded message; "" when it is kept as it is
}{{
	name:  "single part binary",
	msg:   "From: a@b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\r\n\r\n",
	parts: []int{0},
	want:  "From: a@b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAC3kDQoNCg==",
}, {
	name:  "multipart: binary part and NUL in 8bit; the break before a delimiter stays the delimiter's",
	msg:   "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Transfer-Encoding: BINARY\r\nX: 1\r\n\r\n\x00\x01\r\n--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\na\x00b\r\n--b--\r\nepi\r\n",
	parts: []int{2, 3},
	want:  "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nX: 1\r\nContent-Transfer-Encoding: base64\r\n\r\nAAE=\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nYQBi\r\n--b--\r\nepi\r\n",
}, {
	name: "NUL in base64 and quoted-printable bodies is not binary content",
	msg:  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nA\x00A\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\x00\r\n--b--\r\n",
}, {
	name:  "inside message/rfc822",
	msg:   "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Transfer-Encoding: binary\r\n\r\nx",
	parts: []int{1},
	want:  "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\neA==",
}, {
	name:  "long body in lines of 76, LF line ends",
	msg:   "Content-Transfer-Encoding: binary\n\n" + strings.Repeat("\x00", 60) + "\n",
	parts: []int{0},
	want:  "Content-Transfer-Encoding: base64\n\n" + strings.Repeat("A", 76) + "\n" + strings.Repeat("A", 4) + "Cg==",
}, {
	name: "plain text kept",
	msg:  "Subject: x\r\n\r\nbody\r\n",
}, {
	name: "header only",
	msg:  "Content-Transfer-Encoding: binary\r\n",
}}

func TestBinaryParts(t *testing.T) {
	for _, c := range binaryCases {
		t.Run(c.name, func(t *testing.T) {
			parts, err := BinaryParts(strings.NewReader(c.msg))
			if err != nil || !slices.Equal(parts, c.parts) {
				t.Fatalf("BinaryParts = %v, %v; want %v", parts, err, c.parts)
			}
			got, err := io.ReadAll(iotest.OneByteReader(EncodeParts(strings.NewReader(c.msg), parts)))
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == "" {
				want = c.msg
			}
			if string(got) != want {
				t.Fatalf("EncodeParts:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestEncodePartsDecodes checks that every part decodes to the bytes it had: the contract
// BINARY[] relies on.
func TestEncodePartsDecodes(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		strings.Repeat("\x00\xff\r\n--not-b\r\n", 500) + "\r\n--b\r\nContent-Type: text/plain\r\n\r\ntext\r\n--b--\r\n"
	parts, err := BinaryParts(strings.NewReader(msg))
	if err != nil || !slices.Equal(parts, []int{1}) {
		t.Fatalf("BinaryParts = %v, %v", parts, err)
	}
	out, err := io.ReadAll(EncodeParts(strings.NewReader(msg), parts))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(out, 0) >= 0 {
		t.Fatal("NUL left in the re-encoded message")
	}
	before, _ := ParseEntity([]byte(msg)).Parts()
	after, err := ParseEntity(out).Parts()
	if err != nil || len(after) != len(before) {
		t.Fatalf("parts after = %d, %v; before %d", len(after), err, len(before))
	}
	for i := range before {
		b, _ := before[i].Decoded()
		a, err := after[i].Decoded()
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("part %d decodes to %q (%v), had %q", i+1, a, err, b)
		}
	}
}

// TestBinaryPartsBounded: beyond mimelimit's bounds the rest is passed through untouched.
func TestBinaryPartsBounded(t *testing.T) {
	deep := mimelimittest.NestedMessage(mimelimit.MaxDepth + 5)
	deep = append(deep[:len(deep):len(deep)], "\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00"...)
	parts, err := BinaryParts(bytes.NewReader(deep))
	if err != nil || parts != nil {
		t.Fatalf("BinaryParts = %v, %v; want none", parts, err)
	}
}

func FuzzEncodeParts(f *testing.F) {
	for _, c := range binaryCases {
		f.Add([]byte(c.msg))
	}
	f.Add(mimelimittest.NestedMessage(3))
	f.Fuzz(func(t *testing.T, msg []byte) {
		parts, err := BinaryParts(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(EncodeParts(bytes.NewReader(msg), parts))
		if err != nil {
			t.Fatal(err)
		}
		if parts == nil && !bytes.Equal(out, msg) {
			t.Fatalf("nothing to encode, yet %q became %q", msg, out)
		}
		small, _ := io.ReadAll(iotest.OneByteReader(EncodeParts(iotest.HalfReader(bytes.NewReader(msg)), parts)))
		if !bytes.Equal(small, out) {
			t.Fatalf("reads of one byte give %q, whole reads %q", small, out)
		}
		if again, _ := BinaryParts(bytes.NewReader(out)); again != nil {
			t.Fatalf("after encoding %q, parts %v are still binary: %q", msg, again, out)
		}
	})
}
