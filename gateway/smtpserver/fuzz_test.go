package smtpserver_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/smtpserver"
)

// FuzzSMTPSession sends arbitrary command streams to the real MX listener of a running
// gateway. The server must answer every line with a reply, never crash, never relay, and end
// the session when the client closes.
func FuzzSMTPSession(f *testing.F) {
	for _, s := range []string{
		"EHLO a\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n",
		"HELO a\r\nMAIL FROM:<>\r\nRCPT TO:<victim@example.org>\r\nRCPT TO:<@a,@b:c@d>\r\n",
		"EHLO a\r\nMAIL FROM:<x@y.test> SIZE=99999999999999999999 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<\"a b\"@localhost> NOTIFY=NEVER\r\n",
		"EHLO a\r\nBDAT 5 LAST\r\nhello\r\nBDAT 99999999999\r\n",
		"AUTH PLAIN AGFsaWNlAHB3\r\nSTARTTLS\r\nVRFY alice\r\nEXPN x\r\nHELP\r\nNOOP\r\nRSET\r\n",
		"\x00\xff\r\n\r\nMAIL FROM:<" + strings.Repeat("a", 300) + "@x.test>\r\n",
		"EHLO a\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<alice+tag@localhost>\r\nDATA\r\n..\r\n.\r\nQUIT\r\n",
	} {
		f.Add(s)
	}
	env := gatewaytest.Start(f)
	env.AddUser("alice@localhost", "pw-fuzz-alice")
	addr := env.GW.Addr("smtp")
	spool := env.Embedded()
	f.Fuzz(func(t *testing.T, input string) {
		if wiretest.StartsTLS(input, "STARTTLS") {
			return
		}
		wiretest.Session(t, addr, input, "QUIT", "220 ", 20*time.Second)
		// Whatever the fuzzer sent, nothing was queued for relay.
		if q, err := spool.QueueEntries(t.Context()); err != nil || len(q) != 0 {
			t.Fatalf("queue after the session: %d entries, %v", len(q), err)
		}
	})
}

// FuzzDataReader compares the bulk DATA reader with a byte-at-a-time reference decoding of
// the same input, delivered in pieces whose sizes the fuzzer also picks: same message, same
// bytes left on the connection after the end marker, and an error exactly when the input
// ends before it.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{
		".\r\n", "a\r\n.\r\n", "..\r\n.\r\nNOOP\r\n", "a\n.\nb\r\n.\r\n", "x\r\n.\rb\r\n.\r\n", "\r\n..\r\n\r\n.\r\n",
		"no end\r\n", "a\r\n.",
	} {
		f.Add([]byte(s), uint8(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, a, b uint8) {
		want, wantRest, ok := smtpserver.DecodeDataLines(in)
		src := smtpserver.Pieces(in, int(a%32)+1, int(b%32)+1)
		msg, rest, err := smtpserver.DecodeData(src, 16)
		if !ok {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%q has no end marker, yet: %q %v", in, msg, err)
			}
			return
		}
		if err != nil || !bytes.Equal(msg, want) || !bytes.Equal(rest, wantRest) {
			t.Fatalf("%q: got %q rest %q %v; want %q rest %q", in, msg, rest, err, want, wantRest)
		}
	})
}

// FuzzCommandParser feeds arbitrary command lines to the engine's parser: it must not panic,
// a path it accepts holds no line break, angle bracket or white space outside a quoted local
// part, and a verb it returns is one it knows.
func FuzzCommandParser(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<x@y.test> SIZE=100 BODY=8BITMIME SMTPUTF8 AUTH=<>",
		"mail from: <>", "RCPT TO:<@a,@b:c@d.test>", `RCPT TO:<"a b\"c"@localhost>`, "RCPT TO:<a@b> NOTIFY=NEVER",
		"BDAT 0 LAST", "BDAT 99999999999999999999", "EHLO", "STARTTLS x", "MAIL FROM:<a@b>SIZE=1", "MAIL FROM:a@b SIZE=-1",
	} {
		f.Add([]byte(s))
	}
	known := map[string]bool{"": true, "HELO": true, "EHLO": true, "MAIL": true, "RCPT": true, "DATA": true, "BDAT": true,
		"RSET": true, "NOOP": true, "QUIT": true, "VRFY": true, "HELP": true, "AUTH": true, "STARTTLS": true, "EXPN": true}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, _, path, _, err := smtpserver.ParseCommandLine(line)
		if !known[verb] {
			t.Fatalf("unknown verb %q from %q", verb, line)
		}
		if err == nil && strings.ContainsAny(path, "\r\n<>") && !bytes.Contains(line, []byte(`"`)) {
			t.Fatalf("path %q accepted from %q", path, line)
		}
	})
}
