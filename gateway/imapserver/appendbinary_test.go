package imapserver_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// A part appended in the binary transfer encoding with NUL bytes (literal8, RFC 3516) is
// stored base64-encoded: BODY[1] gives base64 that a client without BINARY can take, while
// BINARY[1] and BINARY.SIZE[1] give back the bytes appended, for a message held in memory
// and for one spooled to disk.
func TestAppendBinaryPartStoredAsBase64(t *testing.T) {
	env := start(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{7, mailstore.InlineLimit + 100<<10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			content := make([]byte, size)
			for i := range content {
				content[i] = byte(rng.UintN(256))
			}
			copy(content, "\x00-\xe4\r\n\r\n")
			msg := "From: user@example.org\r\nSubject: binary " + fmt.Sprint(size) + "\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=sep\r\n\r\n--sep\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
				"--sep\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
				string(content) + "\r\n--sep--\r\n"

			r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
			if out := r.cmd("a1", "LOGIN alice@localhost "+alicePW); !strings.HasPrefix(out[len(out)-1], "a1 OK") {
				t.Fatalf("LOGIN: %v", out)
			}
			r.appendSync("a2", "INBOX", "~", msg)

			c := aliceInbox(t, env)
			crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "binary " + fmt.Sprint(size)}}}
			seqs := searchSeqs(t, c, crit)
			if len(seqs) != 1 {
				t.Fatalf("search: %v", seqs)
			}
			body := &imap.FetchItemBodySection{Part: []int{2}, Peek: true}
			mime := &imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierMIME, Peek: true}
			bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
			msgs := fetchAll(t, c, imap.SeqSetNum(seqs[0]), &imap.FetchOptions{
				BodySection:       []*imap.FetchItemBodySection{body, mime},
				BinarySection:     []*imap.FetchItemBinarySection{bin},
				BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}},
			})
			m := msgs[0]
			stored := m.FindBodySection(body)
			if bytes.IndexByte(stored, 0) >= 0 {
				t.Fatalf("BODY[2] holds NUL: served as appended")
			}
			decoded, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(stored), "\r\n", ""))
			if err != nil || !bytes.Equal(decoded, content) {
				t.Fatalf("BODY[2] is not the part in base64 (%v): %.80q", err, stored)
			}
			if h := string(m.FindBodySection(mime)); !strings.Contains(h, "Content-Transfer-Encoding: base64\r\n") || strings.Contains(h, "binary") {
				t.Fatalf("MIME header of part 2: %q", h)
			}
			if got := m.FindBinarySection(bin); !bytes.Equal(got, content) {
				t.Fatalf("BINARY[2]: %d bytes, not the %d appended", len(got), len(content))
			}
			if n, ok := m.FindBinarySectionSize([]int{2}); !ok || n != uint32(len(content)) {
				t.Fatalf("BINARY.SIZE[2] = %d, %v; want %d", n, ok, len(content))
			}
		})
	}
}

// Mail received over SMTP is stored as it was sent, binary parts included: only APPEND
// re-encodes, and the bytes a signature covers never change on delivery.
func TestSMTPBinaryPartKeptAsSent(t *testing.T) {
	env := start(t)
	content := "\x00\x01binary\xff\r\n\x00"
	msg := "From: user@example.org\r\nTo: alice@localhost\r\nSubject: smtp binary\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=sep\r\n\r\n--sep\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--sep\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		content + "\r\n--sep--\r\n"
	env.Deliver(t, "alice@localhost", msg)
	c := aliceInbox(t, env)
	body := &imap.FetchItemBodySection{Part: []int{2}, Peek: true}
	msgs := fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{body}})
	if got := string(msgs[0].FindBodySection(body)); got != content {
		t.Fatalf("BODY[2] of the delivered message = %q, sent %q", got, content)
	}
}
