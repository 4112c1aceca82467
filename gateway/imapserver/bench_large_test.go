package imapserver_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// BenchmarkIMAP100kView measures the commands of a 100,000-message INBOX that touch every
// message without its text: UID FETCH 1:* (FLAGS) and a UID SEARCH RETURN (COUNT MIN MAX
// ALL) whose 100,000 hits come from an address criterion every message matches, on an
// indexed mailbox.
func BenchmarkIMAP100kView(b *testing.B) {
	const n = 100_000
	env, c := indexedInbox(b, n, func(i int) string {
		return fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@localhost\r\nSubject: message %d\r\n"+
			"Message-ID: <%d@example.org>\r\n\r\nbody %d\r\n", i, i, i, i, i)
	})
	// The FETCH responses are read as lines, not parsed: what is measured is the server.
	conn, err := tls.Dial("tcp", env.GW.Addr("imaps"), env.TLSConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReaderSize(conn, 64<<10)
	cmd := func(tag, line string) (untagged int) {
		if _, err := conn.Write([]byte(tag + " " + line + "\r\n")); err != nil {
			b.Fatal(err)
		}
		for {
			l, err := rd.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(l, []byte(tag+" ")) {
				if !bytes.HasPrefix(l, []byte(tag+" OK")) {
					b.Fatalf("%s", l)
				}
				return untagged
			}
			untagged++
		}
	}
	cmd("a1", "LOGIN alice@localhost "+alicePW)
	cmd("a2", "SELECT INBOX")
	b.Run("UIDFetchFlags", func(b *testing.B) {
		for b.Loop() {
			if got := cmd("f", "UID FETCH 1:* (FLAGS)"); got != n {
				b.Fatalf("%d responses", got)
			}
		}
	})
	b.Run("UIDSearchUnseen", func(b *testing.B) {
		for b.Loop() {
			if got := cmd("s", "UID SEARCH RETURN (COUNT MIN MAX ALL) UNSEEN"); got != 1 {
				b.Fatalf("%d responses", got)
			}
		}
	})
	b.Run("ESearchFrom", func(b *testing.B) {
		opts := &imap.SearchOptions{ReturnCount: true, ReturnMin: true, ReturnMax: true, ReturnAll: true}
		for b.Loop() {
			d, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "example.org"}}}, opts).Wait()
			if err != nil || d.Count != n {
				b.Fatalf("%v %v", d, err)
			}
		}
	})
}
