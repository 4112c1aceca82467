package imapserver_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/sealgate/sealgate/gateway/imapserver"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

// nestedMsg is mimelimittest's message of depth nested multipart/mixed entities around a text
// part, with LF line ends as this package's tests write messages (appendMsg sends CRLF).
func nestedMsg(depth int) string {
	msg := mimelimittest.Nested("From: Sender <sender@example.org>\r\nTo: alice@localhost\r\nSubject: nested\r\n", depth)
	return strings.ReplaceAll(string(msg), "\r\n", "\n")
}

// A stored message beyond the structure bounds (APPEND does not refuse it) is served as one
// application/octet-stream part; one within them keeps its structure.
func TestFetchStructureBeyondLimits(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	appendMsg(t, c, "INBOX", nestedMsg(10000), nil)
	appendMsg(t, c, "INBOX", nestedMsg(3), nil)
	mustSelect(t, c, "INBOX")
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	part11 := &imap.FetchItemBodySection{Part: []int{1, 1}, Peek: true}
	bin1 := &imap.FetchItemBinarySection{Part: []int{1}, Peek: true}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Content-Type"}, Peek: true}
	msgs := fetchAll(t, c, imap.SeqSetNum(1, 2), &imap.FetchOptions{
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{part1, part11, hdr},
		BinarySection: []*imap.FetchItemBinarySection{bin1},
	})
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	flat, ok := msgs[0].BodyStructure.(*imap.BodyStructureSinglePart)
	if !ok || flat.Type != "application" || flat.Subtype != "octet-stream" {
		t.Fatalf("deep message: %.300v", fmt.Sprintf("%#v", msgs[0].BodyStructure))
	}
	body := strings.ReplaceAll(nestedMsg(10000), "\n", "\r\n")
	body = body[strings.Index(body, "\r\n\r\n")+4:]
	if got := msgs[0].FindBodySection(part1); string(got) != body || flat.Size != uint32(len(body)) {
		t.Fatalf("BODY[1] of the deep message: %d bytes, want the %d of its body", len(got), len(body))
	}
	if got := msgs[0].FindBinarySection(bin1); string(got) != body {
		t.Fatalf("BINARY[1] of the deep message: %d bytes", len(got))
	}
	if got := msgs[0].FindBodySection(hdr); !bytes.Contains(got, []byte("boundary=\"b0\"")) || len(got) > 100 {
		t.Fatalf("HEADER.FIELDS (Content-Type) is not the stored one: %.100q", got)
	}
	mp, ok := msgs[1].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 1 {
		t.Fatalf("shallow message: %.300v", fmt.Sprintf("%#v", msgs[1].BodyStructure))
	}
	if got := msgs[1].FindBodySection(part11); !bytes.HasPrefix(got, []byte("--b2\r\n")) {
		t.Fatalf("BODY[1.1] of the shallow message: %.200q", got)
	}
}

// BODYSTRUCTURE of 10,000 nested levels and of the deepest message within the bounds, through
// the real server: the figures in docs/PERFORMANCE.md.
func BenchmarkFetchBodyStructureNested(b *testing.B) {
	env := start(b)
	c := login(b, env, "alice@localhost", alicePW)
	for i, depth := range []int{10000, mimelimit.MaxDepth} {
		appendMsg(b, c, "INBOX", nestedMsg(depth), nil)
		mustSelect(b, c, "INBOX")
		b.Run(fmt.Sprint(depth), func(b *testing.B) {
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				fetchAll(b, c, imap.SeqSetNum(uint32(i+1)), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true}})
			}
		})
	}
}

// FuzzStructureWithinLimits: a message that mimelimit.Check lets through is one whose
// BODYSTRUCTURE, as go-imap parses it, stays within the bounds, so that the check in front of
// go-imap is enough.
func FuzzStructureWithinLimits(f *testing.F) {
	f.Add([]byte(nestedMsg(3)))
	f.Add([]byte(nestedMsg(mimelimit.MaxDepth)))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\nx\n--i--\n--o--\n"))
	f.Add([]byte("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nb\r\n--d--\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if mimelimit.Check(bytes.NewReader(msg)) != nil {
			return
		}
		parts := 0
		var walk func(bs imap.BodyStructure, depth int)
		walk = func(bs imap.BodyStructure, depth int) {
			if depth > mimelimit.MaxDepth {
				t.Fatalf("the BODYSTRUCTURE has an entity %d levels deep", depth)
			}
			switch bs := bs.(type) {
			case *imap.BodyStructureMultiPart:
				for _, c := range bs.Children {
					parts++
					walk(c, depth+1)
				}
			case *imap.BodyStructureSinglePart:
				if bs.MessageRFC822 != nil {
					parts++
					walk(bs.MessageRFC822.BodyStructure, depth+1)
				}
			}
		}
		walk(imapserver.BodyStructureOf(msg), 0)
		if parts > mimelimit.MaxParts {
			t.Fatalf("the BODYSTRUCTURE has %d parts", parts)
		}
	})
}
