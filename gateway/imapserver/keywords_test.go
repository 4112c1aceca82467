package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/imapserver"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// LITERAL+ (RFC 7888): an APPEND literal over LITERAL-'s 4096 bytes is sent without waiting
// for a continuation, and the next command follows in the same write.
func TestLiteralPlusAppend(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	login := r.cmd("a", "LOGIN alice@localhost "+alicePW)
	if !strings.Contains(login[len(login)-1], "LITERAL+") {
		t.Fatalf("LITERAL+ not advertised: %q", login)
	}
	body := "From: x@example.org\r\nSubject: plus\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 500)
	r.send(fmt.Sprintf("b APPEND INBOX {%d+}\r\n%s\r\nc NOOP", len(body), body))
	lines := r.until("c")
	for _, l := range lines {
		if strings.HasPrefix(l, "+") {
			t.Errorf("continuation request for a non-synchronizing literal: %q", lines)
		}
	}
	if !strings.HasPrefix(lines[0], "b OK [APPENDUID") || !strings.HasPrefix(lines[len(lines)-1], "c OK") {
		t.Fatalf("APPEND {n+} then NOOP: %q", lines)
	}
	if got := env.Mailbox("alice@localhost", "INBOX"); len(got) != 1 || string(got[0].Body) != body {
		t.Fatalf("stored: %v", got)
	}
}

// LIST "" "" answers the hierarchy delimiter (RFC 9051 §6.3.9).
func TestListDelimiter(t *testing.T) {
	env := start(t)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a", "LOGIN alice@localhost "+alicePW)
	got := r.cmd("b", `LIST "" ""`)
	if len(got) != 2 || got[0] != `* LIST (\Noselect) "/" ""` {
		t.Fatalf(`LIST "" "": %q`, got)
	}
}

// keywordsSeen checks a session's transcript: every keyword in a FETCH response must have
// been listed by an untagged FLAGS and (in a read-write mailbox) PERMANENTFLAGS response
// before it.
type keywordsSeen struct {
	flags, perm map[string]bool
}

func (k *keywordsSeen) check(t *testing.T, lines []string) {
	t.Helper()
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "* FLAGS ("):
			k.flags = flagSet(l[len("* FLAGS ("):])
		case strings.HasPrefix(l, "* OK [PERMANENTFLAGS ("):
			k.perm = flagSet(l[len("* OK [PERMANENTFLAGS ("):])
		case strings.Contains(l, " FETCH (") && strings.Contains(l, "FLAGS ("):
			fl := l[strings.Index(l, "FLAGS (")+len("FLAGS ("):]
			for w := range flagSet(fl) {
				if strings.HasPrefix(w, `\`) {
					continue
				}
				// EXAMINE: PERMANENTFLAGS is empty, nothing can be changed.
				if !k.flags[w] || len(k.perm) > 0 && !k.perm[w] {
					t.Errorf("keyword %s in %q before FLAGS/PERMANENTFLAGS listed it (in %q)", w, l, lines)
				}
			}
		}
	}
}

func flagSet(s string) map[string]bool {
	s = s[:strings.IndexByte(s, ')')]
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// A keyword reaches a FETCH response only after FLAGS and PERMANENTFLAGS listed it: set by
// another session and seen at NOOP, seen first by FETCH, set by the session itself, and
// listed at SELECT. A keyword is always shown in one spelling.
func TestKeywordsAnnounced(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("one", "1"))
	deliver(t, env, "alice@localhost", simpleMsg("two", "2"))
	other := aliceInbox(t, env)

	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	var k keywordsSeen
	r.cmd("a", "LOGIN alice@localhost "+alicePW)
	k.check(t, r.cmd("b", "SELECT INBOX"))

	store := func(seq uint32, kw ...imap.Flag) {
		t.Helper()
		if err := other.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: kw}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	store(1, "$Label1")
	got := r.cmd("c", "NOOP")
	k.check(t, got)
	if !k.flags["$Label1"] || !k.perm[`\*`] {
		t.Fatalf("NOOP after another session set $Label1: %q", got)
	}

	store(2, "$Label2")
	got = r.cmd("d", "FETCH 2 (FLAGS)") // the FETCH itself is the first to carry $Label2
	k.check(t, got)
	if !strings.Contains(strings.Join(got, "\n"), "$Label2") {
		t.Fatalf("FETCH after another session set $Label2: %q", got)
	}

	got = r.cmd("e", "STORE 1 +FLAGS (Own $label2)")
	k.check(t, got)
	if !k.flags["Own"] || k.flags["$label2"] {
		t.Fatalf("STORE of a new keyword and another spelling of a known one: %q", got)
	}
	k.check(t, r.cmd("f", "FETCH 1:* (FLAGS)"))

	// A message arriving with a new keyword announces it at once.
	ac := other.Append("INBOX", 3, &imap.AppendOptions{Flags: []imap.Flag{"$Arrived"}})
	ac.Write([]byte("x\r\n"))
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}
	got = r.cmd("g", "NOOP")
	k.check(t, got)
	if !k.flags["$Arrived"] || !k.perm["$Arrived"] {
		t.Fatalf("NOOP after another session appended a message with $Arrived: %q", got)
	}
	k.check(t, r.cmd("h", "FETCH 1:* (FLAGS)"))

	var fresh keywordsSeen
	r2 := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r2.cmd("a", "LOGIN alice@localhost "+alicePW)
	got = r2.cmd("b", "EXAMINE INBOX")
	fresh.check(t, got)
	listed := "" // FLAGS, in whatever spelling came first
	for _, l := range got {
		if strings.HasPrefix(l, "* FLAGS") {
			listed = strings.ToLower(l)
		}
	}
	for _, w := range []string{"$label1", "$label2", "own", "$arrived"} {
		if !strings.Contains(listed, " "+w) {
			t.Errorf("EXAMINE does not list %s: %q", w, got)
		}
	}
	fresh.check(t, r2.cmd("c", "FETCH 1:* (FLAGS)"))
}

// A mailbox takes MaxMailboxKeywords keywords; one more is refused with NO [LIMIT], and
// PERMANENTFLAGS stops offering \*.
func TestKeywordLimit(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("one", "1"))
	deliver(t, env, "alice@localhost", simpleMsg("two", "2"))
	c := aliceInbox(t, env)
	var kw []imap.Flag
	for i := range imapserver.MaxMailboxKeywords {
		kw = append(kw, imap.Flag(fmt.Sprintf("k%d", i)))
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: kw}, nil).Close(); err != nil {
		t.Fatalf("STORE of %d keywords: %v", len(kw), err)
	}
	err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{"onemore"}}, nil).Close()
	wantCode(t, err, imap.ResponseCodeLimit)
	// Keywords the mailbox holds can still be set.
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: kw[:3]}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	sel := mustSelect(t, c, "INBOX")
	for _, f := range sel.PermanentFlags {
		if f == imap.FlagWildcard {
			t.Errorf("PERMANENTFLAGS offers \\* with %d keywords announced", imapserver.MaxMailboxKeywords)
		}
	}
	ac := c.Append("INBOX", 3, &imap.AppendOptions{Flags: []imap.Flag{"onemore"}})
	ac.Write([]byte("x\r\n"))
	ac.Close()
	if _, err := ac.Wait(); err == nil {
		t.Fatal("APPEND with a keyword past the limit accepted")
	}
}

// Python's imaplib sees a keyword another session set announced in FLAGS at NOOP.
func TestPythonKeywordAnnounced(t *testing.T) {
	py := requirePeer(t, "python3")
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("first", "hello"))
	script := filepath.Join(t.TempDir(), "kw.py")
	const src = `
import imaplib, ssl, sys
host, port, cafile, pw = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
a = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
b = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
for m in (a, b):
    assert m.login("alice@localhost", pw)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
assert b.store("1", "+FLAGS", "($Py)")[0] == "OK"
a.noop()
flags = a.response("FLAGS")[1]
assert flags and b"$Py" in flags[-1], flags
typ, data = a.fetch("1", "(FLAGS)")
assert typ == "OK" and b"$Py" in data[0], data
print("ok")
`
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(env.GW.Addr("imaps"))
	out, err := exec.Command(py, script, host, port, filepath.Join(env.Dir, "tls", "cert.pem"), alicePW).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
}

// A FETCH that reaches a message another session expunged after the FETCH read the
// message list (its body gone with it) skips that message and completes, rather than
// failing with NO [NONEXISTENT] on a mailbox that exists. The client holds the response
// of a large first message unread while the second is expunged.
func TestFetchSkipsMessageExpungedMeanwhile(t *testing.T) {
	env := start(t)
	ctx := context.Background()
	st, u := storeUser(t, env, "alice@localhost")
	msg := func(subject string, size int) []byte {
		// Not text: the search indexer leaves the bodies alone.
		return fmt.Appendf(nil, "From: s@example.org\r\nSubject: %s\r\nContent-Type: application/octet-stream\r\n\r\n%s",
			subject, strings.Repeat("x", size))
	}
	for _, m := range [][]byte{msg("big", 3<<20), msg("second", 2*mailstore.InlineLimit)} {
		if _, err := st.Deliver(ctx, mailstore.Delivery{Copies: []mailstore.Copy{{
			Body: msgbuf.FromBytes(m), Local: []mailstore.Target{{UserID: u.ID}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := st.MailboxByName(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// A small receive buffer, so the server blocks writing the first message.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := tls.DialWithDialer(&d, "tcp", env.GW.Addr("imaps"), env.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	r := &raw{t: t, conn: conn, r: bufio.NewReader(conn)}
	r.line() // greeting
	r.cmd("b", "LOGIN alice@localhost "+alicePW)
	r.cmd("c", "SELECT INBOX")
	r.send("d FETCH 1:2 (BODY.PEEK[])")
	first := r.line() // the FETCH has read the message list and started writing
	if !strings.HasPrefix(first, "* 1 FETCH") {
		t.Fatalf("first line %q", first)
	}
	time.Sleep(100 * time.Millisecond) // let the server fill the socket buffers
	if err := env.Embedded().Expunge(ctx, inbox.ID, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, r.r, 3<<20+int64(len(msg("big", 0)))); err != nil {
		t.Fatal(err)
	}
	rest := r.until("d")
	if last := rest[len(rest)-1]; !strings.HasPrefix(last, "d OK") {
		t.Fatalf("FETCH after another session expunged a message it had listed: %q", rest)
	}
}

// A body larger than the store keeps in one piece is streamed whole, on both stores (the
// PostgreSQL store reads its chunks while the response is written).
func TestFetchLargeBody(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var storage *config.Storage
			if backend == "postgres" {
				storage = &config.Storage{Backend: config.BackendPostgres, DSN: gatewaytest.PostgresDSN(t)}
			}
			env := startOn(t, storage)
			env.AddUser("alice@localhost", alicePW)
			big := simpleMsg("big", strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef\n", (3<<20)/49))
			deliver(t, env, "alice@localhost", big)
			c := aliceInbox(t, env)
			msgs := fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
			// The gateway adds trace header fields; the body must come back whole.
			want := strings.ReplaceAll(big[strings.Index(big, "\n\n"):], "\n", "\r\n")
			if len(msgs) != 1 || len(msgs[0].BodySection) != 1 || !strings.HasSuffix(string(msgs[0].BodySection[0].Bytes), want) {
				t.Fatalf("FETCH BODY[] of a message with a %d-byte body: %d messages", len(want), len(msgs))
			}
		})
	}
}
