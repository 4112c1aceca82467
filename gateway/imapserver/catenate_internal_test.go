package imapserver

import "testing"

// FuzzParseIMAPURL: any string parses or is refused without a panic; what parses names a
// mailbox and a message, with a partial range that stays in bounds.
func FuzzParseIMAPURL(f *testing.F) {
	for _, s := range []string{
		"/INBOX/;UID=1", "/INBOX;UIDVALIDITY=5/;UID=2/;SECTION=1.HEADER/;PARTIAL=0.10",
		"imap://user@host/a%2Fb/;uid=3/;partial=100000", "/x/;uid=0", "/;uid=1", "/a/;uid=1/;partial=9223372036854775807.9223372036854775807",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, ok := parseIMAPURL(s)
		if !ok {
			return
		}
		if ref.mailbox == "" || ref.uid == 0 || ref.partial && (ref.offset < 0 || ref.length <= 0) {
			t.Fatalf("%q: %+v", s, ref)
		}
	})
}
