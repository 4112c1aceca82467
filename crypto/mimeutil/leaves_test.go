package mimeutil

import (
	"bytes"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// leavesSeeds are messages whose leaves end at the end of input, at delimiters after CRLF and
// LF line ends, in lines longer than the reader's buffer and beyond the bounds.
var leavesSeeds = []string{
	scanFixture,
	"Subject: x\r\n\r\nline 1\r\nline 2\r\n",
	"Subject: x\n\nno final line end",
	"Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\nA\n\n--b\nContent-Type: message/rfc822\n\nSubject: in\n\nB\n--b--\nepi\n",
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + string(bytes.Repeat([]byte("x"), 100<<10)) + "\r\n--b--\r\n",
	"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nin b\r\n--a\r\n\r\nafter\r\n--a--",
}

// Leaves gives each leaf's body as the bytes between its offsets, one byte at a time or in
// large reads alike, and finds the tree Scan finds when it does not follow embedded messages.
func TestLeaves(t *testing.T) {
	for _, msg := range leavesSeeds {
		checkLeaves(t, []byte(msg))
	}
}

func checkLeaves(t *testing.T, msg []byte) {
	t.Helper()
	for _, oneByte := range []bool{false, true} {
		type leaf struct {
			p    *Part
			body []byte
		}
		var got []leaf
		tree := Leaves(bytes.NewReader(msg), func(p *Part, body io.Reader) {
			if oneByte {
				body = iotest.OneByteReader(body)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, leaf{p, b})
		})
		for _, l := range got {
			if want := msg[l.p.BodyStart:l.p.End]; !bytes.Equal(l.body, want) {
				t.Fatalf("leaf body %q, want %q", l.body, want)
			}
		}
		if want := newScanner(bytes.NewReader(msg), 64<<10, false).entity(0, "text/plain"); !reflect.DeepEqual(tree, want) {
			t.Fatalf("Leaves found another tree than Scan")
		}
	}
}

// FuzzLeaves: for any message, each leaf's body reads as the bytes between its offsets.
func FuzzLeaves(f *testing.F) {
	for _, s := range leavesSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) { checkLeaves(t, msg) })
}
