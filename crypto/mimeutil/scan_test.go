package mimeutil

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

const scanFixture = "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\npre\r\n--o\r\nContent-Type: text/plain\r\n\r\nhello\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\none\r\n--i\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n--i--\r\nepi\r\n--o--\r\nend\r\n"

// body returns the body bytes of p in msg.
func body(msg string, p *Part) string { return msg[p.BodyStart:p.End] }

// TestScan: the tree of a multipart with an embedded message, its bodies without the line
// end before each delimiter, and the defaults of a part without Content-Type.
func TestScan(t *testing.T) {
	tree := Scan(strings.NewReader(scanFixture))
	if tree.Type != "multipart" || len(tree.Parts) != 2 || tree.End != int64(len(scanFixture)) {
		t.Fatalf("top: %s/%s %d parts, end %d", tree.Type, tree.Subtype, len(tree.Parts), tree.End)
	}
	if got := body(scanFixture, tree.Parts[0]); got != "hello" {
		t.Errorf("part 1 body %q", got)
	}
	inner := tree.Find([]int{2, 1})
	if inner == nil || body(scanFixture, inner) != "one" || inner.Params["charset"] != "us-ascii" {
		t.Fatalf("part 2.1: %+v", inner)
	}
	if m := tree.Parts[1].Message; m == nil || m.Header.Get("Subject") != "inner" || len(m.Parts) != 2 {
		t.Fatalf("message/rfc822 part: %+v", tree.Parts[1])
	}
	if tree.Find([]int{3}) != nil || tree.Find([]int{2, 3}) != nil {
		t.Error("Find of a missing part is not nil")
	}
}

// TestScanOutermostBoundary: a delimiter belongs to the outermost open multipart with its
// boundary (as in ParseEntity and mimelimit.Check), so an inner multipart that reuses its
// parent's boundary has no parts of its own and the line ends it.
func TestScanOutermostBoundary(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"
	tree := Scan(strings.NewReader(msg))
	if len(tree.Parts) != 2 {
		t.Fatalf("%d parts, want 2", len(tree.Parts))
	}
	if in := tree.Parts[0]; len(in.Parts) != 0 || in.Type != "multipart" {
		t.Errorf("inner multipart: %s/%s with %d parts", in.Type, in.Subtype, len(in.Parts))
	}
	if got := body(msg, tree.Parts[1]); got != "x" {
		t.Errorf("part 2 body %q, want %q", got, "x")
	}
	e := ParseEntity([]byte(msg))
	if parts, err := e.Parts(); err != nil || len(parts) != 2 {
		t.Errorf("ParseEntity: %d parts, %v; want the same split", len(parts), err)
	}
}

// TestScanFoldedField: a folded field is unfolded as RFC 5322 §2.2.3 says (the line breaks
// removed, the white space kept).
func TestScanFoldedField(t *testing.T) {
	tree := Scan(strings.NewReader("Content-Description: a\r\n\tb\r\n\r\nbody"))
	if got := tree.Header.Get("Content-Description"); got != "a\tb" {
		t.Errorf("Content-Description %q", got)
	}
}

// TestScanBounds: structure beyond mimelimit's bounds ends in leaves, with every byte
// still inside the tree.
func TestScanBounds(t *testing.T) {
	deep := mimelimittest.Nested("Subject: deep\r\n", mimelimit.MaxDepth+5)
	depth := 0
	for p := Scan(bytes.NewReader(deep)); len(p.Parts) > 0; p = p.Parts[0] {
		depth++
	}
	if depth != mimelimit.MaxDepth {
		t.Errorf("depth %d, want %d", depth, mimelimit.MaxDepth)
	}
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=w\r\n\r\n")
	for range mimelimit.MaxParts + 10 {
		b.WriteString("--w\r\n\r\nx\r\n")
	}
	b.WriteString("--w--\r\n")
	wide := Scan(strings.NewReader(b.String()))
	if len(wide.Parts) != mimelimit.MaxParts || wide.End != int64(b.Len()) {
		t.Errorf("%d parts, end %d of %d", len(wide.Parts), wide.End, b.Len())
	}
}

// TestScanLongLine: the rest of a line longer than the read buffer is neither an empty line
// nor a delimiter, wherever the buffer splits it.
func TestScanLongLine(t *testing.T) {
	long := "Subject: " + strings.Repeat("x", 16<<10-len("Subject: "))
	msg := long + "\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("y", 16<<10) + "--b\r\nz\r\n--b--\r\n"
	tree := Scan(strings.NewReader(msg))
	if tree.Type != "multipart" || len(tree.Parts) != 1 {
		t.Fatalf("%s/%s with %d parts, want multipart/mixed with 1", tree.Type, tree.Subtype, len(tree.Parts))
	}
	if got := body(msg, tree.Parts[0]); !strings.HasSuffix(got, "y--b\r\nz") {
		t.Errorf("part 1 body ends %q", got[max(len(got)-10, 0):])
	}
}

// FuzzScan: any message scans into a tree whose offsets lie within the message and in
// order, each child starting in its parent's body. (An empty last part cut short by an
// outer delimiter starts after the line end that its parent leaves to that delimiter.)
func FuzzScan(f *testing.F) {
	f.Add([]byte(scanFixture))
	f.Add([]byte("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nb\r\n--d--\r\n"))
	f.Add([]byte("Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var walk func(p *Part, from int64)
		walk = func(p *Part, from int64) {
			if p.HeaderStart < from || p.HeaderStart > p.BodyStart || p.BodyStart > p.End || p.End > int64(len(msg)) {
				t.Fatalf("part offsets %d %d %d, from %d, of %d bytes", p.HeaderStart, p.BodyStart, p.End, from, len(msg))
			}
			for _, c := range p.Parts {
				walk(c, p.BodyStart)
			}
			if p.Message != nil {
				walk(p.Message, p.BodyStart)
			}
		}
		walk(Scan(bytes.NewReader(msg)), 0)
	})
}
