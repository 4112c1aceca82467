package imapserver_test

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/config"
)

// startTLSRaw opens the STARTTLS listener, upgrades to TLS the way a client does and returns
// a raw session over it.
func startTLSRaw(t *testing.T, addr string, tlsConf *tls.Config) *raw {
	t.Helper()
	pr := rawDial(t, addr, nil)
	if out := pr.cmd("s1", "STARTTLS"); !strings.HasPrefix(out[len(out)-1], "s1 OK") {
		t.Fatalf("STARTTLS: %v", out)
	}
	return pr.overTLS(tlsConf)
}

// A refused non-synchronizing literal is dropped with the rest of its command: its bytes are
// never run as commands, whether the literal is refused for its size or because the command
// failed before it, on implicit TLS and after STARTTLS.
func TestRefusedLiteralIsNotParsedAsCommands(t *testing.T) {
	env := start(t)
	for _, listener := range []string{"imaps", "imap"} {
		t.Run(listener, func(t *testing.T) {
			var r *raw
			if listener == "imaps" {
				r = rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
			} else {
				r = startTLSRaw(t, env.GW.Addr("imap"), env.TLSConfig())
			}
			if out := r.cmd("a1", "LOGIN alice@localhost "+alicePW); !strings.HasPrefix(out[len(out)-1], "a1 OK") {
				t.Fatalf("LOGIN: %v", out)
			}
			mbox := "Injected" + listener
			inner := "z1 CREATE " + mbox + "\r\n"
			big := inner + strings.Repeat("x", 6000-len(inner))
			// An APPEND refused for its mailbox: whether or not the library has read the
			// literal when it answers, its bytes never run.
			r.conn.Write([]byte("c APPEND Nowhere" + listener + " {6000+}\r\n" + big + "\r\n"))
			// A small literal in a command refused before its literal is read.
			small := "z2 CREATE " + mbox + "2\r\n"
			r.conn.Write([]byte(fmt.Sprintf("d FROBNICATE {%d+}\r\n%s trailing\r\n", len(small), small)))
			out := r.cmd("e", "LIST \"\" \"*\"")
			all := strings.Join(out, "\n")
			if strings.Contains(all, "z1 ") || strings.Contains(all, "z2 ") || strings.Contains(all, mbox) {
				t.Fatalf("literal bytes ran as commands:\n%s", all)
			}
			if !strings.Contains(all, "c NO") || !strings.Contains(all, "d BAD") || !strings.HasPrefix(out[len(out)-1], "e OK") {
				t.Fatalf("want the refusals and the session in sync:\n%s", all)
			}
			// Accepted literals still work, synchronizing and not.
			msg := "Subject: ok\r\n\r\nhello\r\n"
			r.conn.Write([]byte(fmt.Sprintf("f APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg)))
			if l := r.line(); !strings.HasPrefix(l, "f OK") {
				t.Fatalf("APPEND with a small non-synchronizing literal: %q", l)
			}
			r.appendSync("g", "INBOX", "", msg)
		})
	}
}

// A refused non-synchronizing literal larger than the message size limit is not read: the
// server ends the session with BYE.
func TestRefusedLiteralOverLimitEndsSession(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = 8192 })
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	r.conn.Write([]byte("c APPEND INBOX {100000+}\r\nz1 CREATE Evil\r\n"))
	var got []string
	for {
		l, err := r.r.ReadString('\n')
		if err != nil {
			break
		}
		got = append(got, strings.TrimSpace(l))
	}
	all := strings.Join(got, "\n")
	if strings.Contains(all, "z1") || !strings.Contains(all, "* BYE") {
		t.Fatalf("want the session ended with BYE and nothing run:\n%s", all)
	}
}

// Commands pipelined after STARTTLS were sent in the clear: they are dropped, never run
// inside the TLS session.
func TestStartTLSDropsPipelinedCommands(t *testing.T) {
	env := start(t)
	clear := rawDial(t, env.GW.Addr("imap"), nil)
	clear.send("s1 STARTTLS\r\nz1 LOGIN alice@localhost " + alicePW + "\r\nz2 CREATE Injected")
	if l := clear.line(); !strings.HasPrefix(l, "s1 OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	r := clear.overTLS(env.TLSConfig())
	if out := r.cmd("a1", "LOGIN alice@localhost "+alicePW); !strings.HasPrefix(out[len(out)-1], "a1 OK") {
		t.Fatalf("LOGIN inside TLS: %v", out)
	}
	out := strings.Join(r.cmd("a2", `LIST "" "*"`), "\n")
	if strings.Contains(out, "Injected") || strings.Contains(out, "z1") || strings.Contains(out, "z2") {
		t.Fatalf("commands sent in the clear ran inside TLS:\n%s", out)
	}
}
