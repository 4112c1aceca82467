package imapserver_test

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// envelopeFixtures are headers that exercise ENVELOPE's corners: encoded words, groups,
// missing and malformed fields, obsolete zones, folding, 8-bit text, no header at all.
var envelopeFixtures = []string{
	"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>\n" +
		"Sender: Secretary <sec@example.org>\n" +
		"Reply-To: \"Team, the\" <team@example.org>, other@example.net\n" +
		"To: alice@localhost, =?iso-8859-1?b?Qmr2cms=?= <bjork@example.is>\n" +
		"Cc: undisclosed: a@example.com, \"B\" <b@example.com>;, c@example.com\n" +
		"Bcc: hidden@example.com\n" +
		"Subject: =?utf-8?b?w4RwZmVsIHVuZCBCaXJuZW4=?= and =?utf-8?q?more_=E2=82=AC?=\n" +
		"Date: Tue, 14 Mar 2023 09:26:53 +0530\n" +
		"In-Reply-To: <a@example.org> <b@example.org>\n" +
		"Message-ID: <full@example.org>\n\nbody\n",
	"Subject: only a subject\n\nno date, no from\n",
	"From: sender@example.org\nTo: Undisclosed recipients:;\nDate: 1 Jan 2020 00:00 EST\nSubject: group only\n\nx\n",
	"From: not an address at all\nTo: <broken@\nDate: yesterday\nMessage-ID: no-brackets@example.org\n\nx\n",
	"This line is not a header field\nSubject: after garbage\n\nbody\n",
	"From: (comment) Ann <ann@example.org> (trailing)\nSubject: folded\n subject line\n\tcontinues\n" +
		"Date: Sun, 31 Dec 2023 23:59:59 -1200\nTo: \"quoted \\\"name\\\"\" <q@example.org>\n\nx\n",
	"From: Zoë <zoe@example.org>\nSubject: 8-bit Grüße \"quoted\" and \\backslash\nDate: Mon, 02 Jan 2006 15:04:05 GMT\n\nx\n",
	"\nno header at all\n",
}

// TestEnvelopeUnchanged pins the ENVELOPE bytes: the same before the search indexer has seen
// the messages (parsed from the header) and after (served from the stored envelope), and the
// same as the server produced when ENVELOPE was parsed on every FETCH (the golden file).
func TestEnvelopeUnchanged(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	for _, m := range envelopeFixtures {
		appendMsg(t, c, "INBOX", m, nil)
	}
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	r.cmd("a2", "SELECT INBOX")
	fetch := func(tag string) string {
		out := r.cmd(tag, "FETCH 1:* (FLAGS ENVELOPE)")
		return strings.Join(out[:len(out)-1], "\n") + "\n"
	}
	first := fetch("a3")
	if err := env.GW.Index().IndexMailbox(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	second := fetch("a5")
	const golden = "testdata/envelope.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(second), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if first != string(want) {
		t.Errorf("ENVELOPE before indexing:\n%s\nwant:\n%s", first, want)
	}
	if second != string(want) {
		t.Errorf("ENVELOPE after indexing:\n%s\nwant:\n%s", second, want)
	}
}
