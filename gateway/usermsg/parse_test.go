package usermsg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

func nested(depth int) string {
	return string(mimelimittest.Nested("From: Sender <sender@example.org>\r\nSubject: nested\r\n", depth))
}

// A message beyond the structure bounds is shown as its header and one attachment holding its
// body; one within them is walked.
func TestParseBeyondLimits(t *testing.T) {
	deep := nested(10000)
	m, err := Parse(strings.NewReader(deep))
	if err != nil {
		t.Fatal(err)
	}
	body := deep[strings.Index(deep, "\r\n\r\n")+4:]
	if m.Subject != "nested" || m.Text != "" || len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, []byte(body)) ||
		m.Attachments[0].ContentType != "application/octet-stream" {
		t.Fatalf("deep message: subject %q, text %q, %d attachments", m.Subject, m.Text, len(m.Attachments))
	}
	m, err = Parse(strings.NewReader(nested(3)))
	if err != nil || strings.TrimSpace(m.Text) != "innermost" || len(m.Attachments) != 0 {
		t.Fatalf("shallow message: %v, text %q, %d attachments", err, m.Text, len(m.Attachments))
	}
}

// FuzzParse: Parse answers every message, and one beyond the bounds with a single attachment.
func FuzzParse(f *testing.F) {
	f.Add([]byte(nested(3)))
	f.Add([]byte(nested(mimelimit.MaxDepth + 1)))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nA\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, _ := Parse(bytes.NewReader(msg))
		if m != nil && mimelimit.Check(bytes.NewReader(msg)) != nil && len(m.Attachments) != 1 {
			t.Fatalf("a message beyond the bounds has %d attachments", len(m.Attachments))
		}
	})
}
