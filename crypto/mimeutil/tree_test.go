package mimeutil

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

// describe renders the tree as the splitting of each level on its own (SplitMultipart) sees
// it, when tree is false, or as ParseEntity sees it.
func describe(b []byte, tree bool) string {
	var out strings.Builder
	var walk func(e *Entity, depth int)
	walk = func(e *Entity, depth int) {
		fmt.Fprintf(&out, "%*s%q %q %q\n", depth, "", e.MediaType, e.RawHeader, e.Body)
		if !strings.HasPrefix(e.MediaType, "multipart/") {
			return
		}
		var parts []*Entity
		var err error
		if tree {
			parts, err = e.Parts()
		} else if depth >= mimelimit.MaxDepth {
			err = mimelimit.ErrExceeded
		} else {
			var raw [][]byte
			raw, err = SplitMultipart(e.Body, e.Params["boundary"])
			for _, r := range raw {
				parts = append(parts, fill(&Entity{}, r))
			}
		}
		if err != nil {
			fmt.Fprintf(&out, "%*s! %v\n", depth, "", errors.Is(err, mimelimit.ErrExceeded))
			return
		}
		for _, p := range parts {
			walk(p, depth+1)
		}
	}
	if tree {
		walk(ParseEntity(b), 0)
	} else {
		walk(fill(&Entity{}, b), 0)
	}
	return out.String()
}

var treeSeeds = []string{
	"Content-Type: multipart/mixed; boundary=a\r\n\r\npre\r\n--a\r\nContent-Type: text/plain\r\n\r\none\r\n--a\r\n\r\ntwo\n--a--\r\nepi\r\n",
	// inner multipart left unclosed by an outer delimiter
	"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nx\r\n\r\n\r\n--o\r\n\r\ny\r\n--o--\r\n",
	// the same boundary inside: the outer one takes the delimiters
	"Content-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\n\r\nz\r\n--s--\r\n--s--\r\n",
	// boundaries that end in "--"
	"Content-Type: multipart/mixed; boundary=\"a--\"\r\n\r\n--a--\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nq\r\n--a----\r\n",
	// a part that is all header, a multipart without delimiters, no close delimiter
	"Content-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\nContent-Type: text/plain\r\n--h\r\nContent-Type: multipart/mixed; boundary=none\r\n\r\nnothing\r\n--h\r\n\r\nlast\r\n\r\n",
	"Content-Type: multipart/signed; boundary=\"=-=\"\n\n--=-=\nContent-Type: text/plain\n\nsigned\n--=-=  \nContent-Type: application/pgp-signature\n\nsig\n--=-=--\n",
}

// longLines has lines longer than the scanner's buffer, split where their rest looks like a
// delimiter or an empty line.
var longLines = []string{
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("y", 16<<10) + "--b\r\nz\r\n--b--\r\n",
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Long: " + strings.Repeat("y", 16<<10-8) + "\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nin\r\n--c--\r\n--b--\r\n",
}

// ParseEntity gives the tree that splitting level by level gives.
func TestParseEntityAsSplit(t *testing.T) {
	cases := append(append([]string(nil), treeSeeds...), longLines...)
	for _, s := range append(cases, string(mimelimittest.NestedMessage(5)), string(mimelimittest.NestedMessage(mimelimit.MaxDepth+3))) {
		if got, want := describe([]byte(s), true), describe([]byte(s), false); got != want {
			t.Errorf("%q:\ngot\n%s\nwant\n%s", s, got, want)
		}
	}
}

func TestParseEntityLimits(t *testing.T) {
	// The 100th nested multipart is parsed, the one below it is not.
	e := ParseEntity(mimelimittest.NestedMessage(mimelimit.MaxDepth + 1))
	for d := 0; d < mimelimit.MaxDepth; d++ {
		parts, err := e.Parts()
		if err != nil || len(parts) != 1 {
			t.Fatalf("depth %d: %v", d, err)
		}
		e = parts[0]
	}
	if _, err := e.Parts(); !errors.Is(err, mimelimit.ErrExceeded) {
		t.Fatalf("below the depth bound: %v", err)
	}
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=w\r\n\r\n")
	for i := 0; i <= mimelimit.MaxParts; i++ {
		b.WriteString("--w\r\n\r\nx\r\n")
	}
	if _, err := ParseEntity(b.Bytes()).Parts(); !errors.Is(err, mimelimit.ErrExceeded) {
		t.Fatalf("beyond the part bound: %v", err)
	}
}

// Parsing 10,000 and 20,000 nested levels: the figures in docs/PERFORMANCE.md.
func BenchmarkParseEntityNested(b *testing.B) {
	mimelimittest.BenchmarkNested(b, func(msg []byte) { ParseEntity(msg) })
}

// FuzzParseEntity: the one-pass parse gives the tree that splitting level by level gives.
func FuzzParseEntity(f *testing.F) {
	for _, s := range treeSeeds {
		f.Add([]byte(s))
	}
	f.Add(mimelimittest.NestedMessage(3))
	f.Add(mimelimittest.NestedMessage(mimelimit.MaxDepth + 1))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if got, want := describe(msg, true), describe(msg, false); got != want {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
}
