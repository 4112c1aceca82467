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
