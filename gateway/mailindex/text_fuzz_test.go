package mailindex_test

import (
	"bytes"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailindex"
)

// FuzzExtract feeds arbitrary messages to Extract: it never fails on input that reads without
// error, the raw header it keeps is the message's start, and the text stays within 4 MiB and
// the newline that ends the last part.
func FuzzExtract(f *testing.F) {
	f.Add([]byte("Subject: hi\r\n\r\nbody\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n--b--\r\n"))
	f.Add([]byte("no header at all"))
	f.Add([]byte("Subject: =?utf-8?b?w7w=?=\n\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var seen []byte
		st, err := mailindex.Extract(bytes.NewReader(msg), func(raw []byte) []byte { seen = raw; return []byte{1} })
		if err != nil {
			t.Fatalf("Extract: %v", err)
		}
		if st.RawHeader != nil && !bytes.HasPrefix(msg, st.RawHeader) {
			t.Fatalf("raw header %q is not the message's start", st.RawHeader)
		}
		if !bytes.HasPrefix(msg, seen) {
			t.Fatalf("envelope given %q, not the message's start", seen)
		}
		if len(st.Text) > 4<<20+1 {
			t.Fatalf("text of %d bytes", len(st.Text))
		}
	})
}
