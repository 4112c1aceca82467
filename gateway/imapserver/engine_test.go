package imapserver_test

import (
	"strings"
	"testing"
)

// The protocol engine's answers where go-imap's server library fell short, over a real
// socket.

func joined(lines []string) string { return strings.Join(lines, "\n") }

// TestID: ID (RFC 2971) is advertised and answered with the server's name, before and after
// login.
func TestID(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	if out := joined(r.cmd("a", "CAPABILITY")); !strings.Contains(out, " ID") {
		t.Fatalf("ID not advertised:\n%s", out)
	}
	out := r.cmd("b", `ID ("name" "test client" "version" "1.0")`)
	if !strings.Contains(joined(out), `* ID ("name" "Sealgate")`) || !strings.HasPrefix(out[len(out)-1], "b OK") {
		t.Fatalf("ID:\n%s", joined(out))
	}
	r.cmd("l", "LOGIN alice@localhost "+alicePW)
	if out := r.cmd("c", "ID NIL"); !strings.HasPrefix(out[len(out)-1], "c OK") {
		t.Fatalf("ID NIL:\n%s", joined(out))
	}
}

// TestLsubNoselectParent: LSUB "%" returns an unsubscribed level above a subscription
// \Noselect, and never the subscription below it (RFC 3501 §6.3.9).
func TestLsubNoselectParent(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("l", "LOGIN alice@localhost "+alicePW)
	r.cmd("c", "CREATE Lists/Go")
	r.cmd("s", "SUBSCRIBE Lists/Go")
	out := joined(r.cmd("a", `LSUB "" "%"`))
	if !strings.Contains(out, `* LSUB (\Noselect) "/" "Lists"`) || strings.Contains(out, "Lists/Go") {
		t.Fatalf(`LSUB "" "%%":`+"\n%s", out)
	}
	out = joined(r.cmd("b", `LSUB "" "*"`))
	if !strings.Contains(out, `* LSUB () "/" "Lists/Go"`) || strings.Contains(out, `"Lists"`) {
		t.Fatalf(`LSUB "" "*":`+"\n%s", out)
	}
}

// TestInvalidModifiedUTF7: a mailbox name that is not valid modified UTF-7 is well-formed
// IMAP: SELECT answers NO, and a LIST pattern matches nothing but succeeds.
func TestInvalidModifiedUTF7(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("l", "LOGIN alice@localhost "+alicePW)
	if out := r.cmd("a", `SELECT "x&'+,-"`); !strings.HasPrefix(out[len(out)-1], "a NO") {
		t.Fatalf("SELECT:\n%s", joined(out))
	}
	if out := r.cmd("b", `LIST "" "x&'+,-%"`); !strings.HasPrefix(out[len(out)-1], "b OK") || len(out) != 1 {
		t.Fatalf("LIST:\n%s", joined(out))
	}
}

// TestBinaryPartialAndEmptySection: BINARY[n]<origin> names its origin (RFC 3516 §4.2), and
// an empty section is a literal.
func TestBinaryPartialAndEmptySection(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", multipartMsg)
	deliver(t, env, "alice@localhost", "From: a@example.org\nSubject: empty part\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\n\n--B--\n")
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("l", "LOGIN alice@localhost "+alicePW)
	r.cmd("s", "SELECT INBOX")
	if out := joined(r.cmd("a", "FETCH 1 (BINARY.PEEK[2]<1.3>)")); !strings.Contains(out, "BINARY[2]<1> ~{3}") {
		t.Fatalf("BINARY partial:\n%q", out)
	}
	if out := joined(r.cmd("b", "FETCH 2 (BODY.PEEK[1])")); !strings.Contains(out, "BODY[1] {0}") {
		t.Fatalf("empty section:\n%q", out)
	}
}

// TestSortThread: SORT, ESORT and THREAD (RFC 5256, RFC 5267) over the selected mailbox,
// with search keys, by sequence number and UID.
func TestSortThread(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", "From: Carol <carol@example.org>\nSubject: Lunch?\nMessage-ID: <1@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nx\n")
	deliver(t, env, "alice@localhost", "From: alice@example.org\nSubject: Build broken\nMessage-ID: <2@example.org>\nDate: Mon, 1 Jan 2024 11:00:00 +0000\n\nx\n")
	deliver(t, env, "alice@localhost", "From: Bob <bob@example.org>\nSubject: Re: Lunch?\nMessage-ID: <3@example.org>\nIn-Reply-To: <1@example.org>\nDate: Mon, 1 Jan 2024 12:00:00 +0000\n\nx\n")
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	if out := joined(r.cmd("l", "LOGIN alice@localhost "+alicePW)); !strings.Contains(out, "SORT ESORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT") {
		t.Fatalf("not advertised:\n%s", out)
	}
	r.cmd("s", "SELECT INBOX")
	for _, c := range []struct{ cmd, want string }{
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 3 2 1"},
		{"SORT (SUBJECT) US-ASCII NOT FROM bob", "* SORT 2 1"},
		{"UID SORT (FROM) UTF-8 ALL", "* SORT 2 3 1"},
		{"SORT RETURN (MIN COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a") MIN 1 COUNT 3`},
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (1 3)(2)"},
		{"THREAD ORDEREDSUBJECT UTF-8 SUBJECT lunch", "* THREAD (1 3)"},
	} {
		if out := joined(r.cmd("a", c.cmd)); !strings.Contains(out, c.want+"\n") {
			t.Errorf("%s:\n%s\nwant %s", c.cmd, out, c.want)
		}
	}
	if out := r.cmd("b", "SORT (NOSUCHKEY) UTF-8 ALL"); !strings.HasPrefix(out[len(out)-1], "b BAD") {
		t.Errorf("unknown sort key: %q", out)
	}
	if out := r.cmd("c", "SORT (DATE) KOI8-R ALL"); !strings.HasPrefix(out[len(out)-1], "c NO [BADCHARSET]") {
		t.Errorf("unknown charset: %q", out)
	}
}
