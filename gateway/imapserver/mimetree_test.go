package imapserver

import (
	"bytes"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

const nestedFixture = "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\npre\r\n--o\r\nContent-Type: text/plain\r\n\r\nhello\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\none\r\n--i\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n--i--\r\nepi\r\n--o--\r\nend\r\n"

// Sections name the bytes RFC 9051 §6.4.5 says: the line end before a delimiter belongs
// to the delimiter, a message/rfc822 part's HEADER and TEXT are its message's, and BINARY
// undoes the transfer encoding.
func TestSections(t *testing.T) {
	msg := []byte(nestedFixture)
	tree := mimeutil.Scan(bytes.NewReader(msg))
	src := bytes.NewReader(msg)
	for _, tc := range []struct {
		sec  imap.FetchItemBodySection
		want string
	}{
		{imap.FetchItemBodySection{Part: []int{1}}, "hello"},
		{imap.FetchItemBodySection{Part: []int{2, 1}}, "one"},
		{imap.FetchItemBodySection{Part: []int{2, 2}}, "aGVsbG8g\r\nd29ybGQ="},
		{imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierHeader}, "Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"},
		{imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"subject"}}, "Subject: inner\r\n\r\n"},
		{imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierMIME}, "Content-Type: message/rfc822\r\n\r\n"},
		{imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierText}, "--i\r\n\r\none\r\n--i\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n--i--\r\nepi"},
		{imap.FetchItemBodySection{Part: []int{3}}, ""},
	} {
		got, _, err := sectionBytes(tree, src, &tc.sec)
		if err != nil || string(got) != tc.want {
			t.Errorf("BODY[%v %s %v]: %q %v, want %q", tc.sec.Part, tc.sec.Specifier, tc.sec.HeaderFields, got, err, tc.want)
		}
	}
	if got, _, err := binaryBytes(tree, src, []int{2, 2}); err != nil || string(got) != "hello world" {
		t.Errorf("BINARY[2.2]: %q %v", got, err)
	}
	mp, ok := bodyStructure(tree, true).(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE: %#v", bodyStructure(tree, true))
	}
	if inner := mp.Children[1].(*imap.BodyStructureSinglePart); inner.MessageRFC822 == nil || inner.MessageRFC822.Envelope.Subject != "inner" {
		t.Errorf("message/rfc822 part: %#v", inner)
	}
}

// FuzzMIMETree: every section of any message can be read (mimeutil.FuzzScan checks the
// offsets of its tree).
func FuzzMIMETree(f *testing.F) {
	f.Add([]byte(nestedFixture))
	f.Add([]byte("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nb\r\n--d--\r\n"))
	f.Add([]byte("Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		tree := mimeutil.Scan(bytes.NewReader(msg))
		bodyStructure(tree, true)
		src := bytes.NewReader(msg)
		for _, part := range [][]int{nil, {1}, {1, 1}, {2}, {1, 2, 1}} {
			for _, spec := range []imap.PartSpecifier{imap.PartSpecifierNone, imap.PartSpecifierHeader, imap.PartSpecifierText, imap.PartSpecifierMIME} {
				if spec == imap.PartSpecifierMIME && len(part) == 0 {
					continue
				}
				sectionBytes(tree, src, &imap.FetchItemBodySection{Part: part, Specifier: spec})
			}
			binaryBytes(tree, src, part)
		}
	})
}
