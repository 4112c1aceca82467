package imapserver_test

// The IMAP extensions beyond IMAP4rev2's core, each over a raw IMAPS session: MULTIAPPEND,
// SEARCHRES, WITHIN and COMPRESS=DEFLATE.

import (
	"bufio"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// MULTIAPPEND (RFC 3502): one APPEND with several messages, a synchronizing literal among
// them, stores them all with their own flags and answers APPENDUID with the UID set; one
// that goes over the quota stores none of them.
func TestMultiAppend(t *testing.T) {
	env := start(t)
	r := rawAdvertising(t, env, "MULTIAPPEND")
	msg := func(subject string, size int) string {
		m := "Subject: " + subject + "\r\n\r\n"
		return m + strings.Repeat("x", size-len(m)-2) + "\r\n"
	}
	one, two, three := msg("one", 100), msg("two", 200), msg("three", 300)
	r.send(fmt.Sprintf("a APPEND INBOX (\\Seen) {%d+}\r\n%s {%d}", len(one), one, len(two)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("no continuation for the synchronizing literal: %q", l)
	}
	r.send(fmt.Sprintf("%s (\\Flagged $Work) \"01-Feb-2024 10:00:00 +0000\" {%d+}\r\n%s", two, len(three), three))
	out := []string{r.line()}
	if last := out[len(out)-1]; !strings.HasPrefix(last, "a OK [APPENDUID ") || !strings.Contains(last, " 1:3]") {
		t.Fatalf("MULTIAPPEND: %q", out)
	}
	r.cmd("s", "SELECT INBOX")
	got := r.cmd("f", "FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE)")
	for i, want := range []string{`FLAGS (\Recent \Seen) INTERNALDATE "%s RFC822.SIZE 100)`, `FLAGS (\Recent) INTERNALDATE "%s RFC822.SIZE 200)`,
		`FLAGS (\Recent \Flagged $Work) INTERNALDATE "01-Feb-2024 10:00:00 +0000" RFC822.SIZE 300)`} {
		pre, post, _ := strings.Cut(want, "%s")
		if len(got) != 4 || !strings.Contains(got[i], pre) || !strings.HasSuffix(got[i], post) {
			t.Fatalf("message %d: want %q in\n%s", i+1, want, strings.Join(got, "\n"))
		}
	}

	a, err := address.Parse("alice@localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Embedded().SetQuota(context.Background(), a, 600+250); err != nil {
		t.Fatal(err)
	}
	out = r.cmd("q", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s", len(one), one, len(two), two))
	if last := out[len(out)-1]; !strings.HasPrefix(last, "q NO [OVERQUOTA]") {
		t.Fatalf("MULTIAPPEND over quota: %q", out)
	}
	if got := strings.Join(r.cmd("n", "STATUS INBOX (MESSAGES)"), "\n"); !strings.Contains(got, "(MESSAGES 3)") {
		t.Fatalf("a refused MULTIAPPEND stored messages:\n%s", got)
	}
}

// SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) answers nothing but OK and keeps its result;
// "$" names it in FETCH, STORE, COPY, SEARCH and UID commands; the result follows expunges,
// MIN/MAX save only those messages, and SELECT starts with the empty set.
func TestSearchRes(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	for _, s := range []string{"one", "two", "three", "four", "five"} {
		appendMsg(t, c, "INBOX", simpleMsg(s, s), nil)
	}
	r := rawAdvertising(t, env, "SEARCHRES")
	r.cmd("s", "SELECT INBOX")
	r.cmd("f", `STORE 2,4,5 +FLAGS.SILENT (\Flagged)`)
	check := func(tag, cmd string, want ...string) {
		t.Helper()
		out := r.cmd(tag, cmd)
		if last := out[len(out)-1]; !strings.HasPrefix(last, tag+" OK") {
			t.Fatalf("%s: %q", cmd, out)
		}
		got := out[:len(out)-1]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n got %q\nwant %q", cmd, got, want)
		}
	}
	check("a", "SEARCH RETURN (SAVE) FLAGGED")
	check("b", "FETCH $ (FLAGS)", `* 2 FETCH (UID 2 FLAGS (\Recent \Flagged))`, `* 4 FETCH (UID 4 FLAGS (\Recent \Flagged))`,
		`* 5 FETCH (UID 5 FLAGS (\Recent \Flagged))`)
	check("c", "SEARCH $ NOT 5", "* SEARCH 2 4")
	check("d", "UID SEARCH OR $ 1", "* SEARCH 1 2 4 5")
	check("e", `STORE $ +FLAGS.SILENT (\Seen)`)
	check("g", "SEARCH SEEN", "* SEARCH 2 4 5")
	// The saved result follows an expunge: message 2 goes, 4 and 5 become 3 and 4.
	check("h", `STORE 2 +FLAGS.SILENT (\Deleted)`)
	check("i", "EXPUNGE", "* 2 EXPUNGE", "* 4 RECENT")
	check("j", "SEARCH $", "* SEARCH 3 4")
	out := r.cmd("k", "UID COPY $ INBOX")
	if last := out[len(out)-1]; !strings.HasPrefix(last, "k OK [COPYUID ") || !strings.Contains(last, " 4:5 6:7]") {
		t.Fatalf("UID COPY $: %q", out)
	}
	check("m", "UID SEARCH RETURN (MIN MAX SAVE) UID 1:*", "* ESEARCH (TAG \"m\") UID MIN 1 MAX 7")
	check("n", "SEARCH $", "* SEARCH 1 6")
	// A SEARCH ... RETURN (SAVE) that fails saves the empty set.
	if out := r.cmd("q", "SEARCH RETURN (SAVE) CHARSET KOI8-R ALL"); !strings.HasPrefix(out[0], "q NO [BADCHARSET]") {
		t.Fatalf("SEARCH CHARSET KOI8-R: %q", out)
	}
	check("r", "SEARCH $", "* SEARCH")
	check("t", "SEARCH RETURN (SAVE) ALL")
	r.cmd("o", "SELECT INBOX")
	check("p", "SEARCH $", "* SEARCH")
}

// WITHIN (RFC 5032): OLDER and YOUNGER count seconds back from now against the internal
// date, alone, negated and next to SINCE/BEFORE.
func TestSearchWithin(t *testing.T) {
	env := start(t)
	r := rawAdvertising(t, env, "WITHIN")
	old := "Subject: old\r\n\r\nold\r\n"
	r.cmd("a", fmt.Sprintf("APPEND INBOX \"01-Jan-2020 12:00:00 +0000\" {%d+}\r\n%s", len(old), old))
	// Two hours ago: older than an hour, younger than a day, whatever the clock says now.
	hours := time.Now().Add(-2 * time.Hour).UTC().Format("02-Jan-2006 15:04:05 -0700")
	r.cmd("b", fmt.Sprintf("APPEND INBOX \"%s\" {%d+}\r\n%s", hours, len(old), old))
	r.cmd("c", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(old), old))
	r.cmd("s", "SELECT INBOX")
	for _, c := range []struct{ search, want string }{
		{"YOUNGER 3600", "* SEARCH 3"},
		{"YOUNGER 86400", "* SEARCH 2 3"},
		{"OLDER 3600", "* SEARCH 1 2"},
		{"NOT OLDER 86400", "* SEARCH 2 3"},
		{"OLDER 3600 YOUNGER 86400", "* SEARCH 2"},
		{"OR OLDER 86400 YOUNGER 60", "* SEARCH 1 3"},
		{"OLDER 3600 SINCE 1-Jan-2021", "* SEARCH 2"},
		{"YOUNGER 86400 BEFORE 1-Jan-2021", "* SEARCH"},
	} {
		if out := r.cmd("x", "SEARCH "+c.search); out[0] != c.want || !strings.HasPrefix(out[len(out)-1], "x OK") {
			t.Errorf("SEARCH %s: %q, want %q", c.search, out, c.want)
		}
	}
	if out := r.cmd("z", "SEARCH OLDER 0"); !strings.HasPrefix(out[0], "z BAD") {
		t.Errorf("SEARCH OLDER 0: %q", out)
	}
}

// COMPRESS=DEFLATE (RFC 4978) with Go's compress/flate as the client: after the tagged OK
// both directions are raw deflate, every response arrives without the client sending more,
// a second COMPRESS is refused with NO [COMPRESSIONACTIVE], and a line that inflates past
// the line limit is refused like an uncompressed one.
func TestCompressDeflate(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	appendMsg(t, c, "INBOX", simpleMsg("compressed", strings.Repeat("body line\n", 2000)), nil)
	r := rawAdvertising(t, env, "COMPRESS=DEFLATE")
	if out := r.cmd("b", "COMPRESS GZIP"); !strings.HasPrefix(out[0], "b BAD") {
		t.Fatalf("COMPRESS GZIP: %q", out)
	}
	if out := r.cmd("c", "COMPRESS DEFLATE"); len(out) != 1 || !strings.HasPrefix(out[0], "c OK") {
		t.Fatalf("COMPRESS DEFLATE: %q", out)
	}
	fw, err := flate.NewWriter(r.conn, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	in := bufio.NewReader(flate.NewReader(r.r))
	cmd := func(tag, line string) []string {
		t.Helper()
		if _, err := io.WriteString(fw, tag+" "+line+"\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		var out []string
		for {
			l, err := in.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: read: %v after %q", line, err, out)
			}
			out = append(out, strings.TrimRight(l, "\r\n"))
			if strings.HasPrefix(l, tag+" ") {
				return out
			}
		}
	}
	cmd("s", "SELECT INBOX")
	out := cmd("f", "FETCH 1 (RFC822.SIZE BODY[TEXT])")
	if last := out[len(out)-1]; !strings.HasPrefix(last, "f OK") || strings.Count(strings.Join(out, "\n"), "body line") != 2000 {
		t.Fatalf("FETCH over DEFLATE: %d lines, last %q", len(out), last)
	}
	if out := cmd("d", "COMPRESS DEFLATE"); !strings.HasPrefix(out[0], "d NO [COMPRESSIONACTIVE]") {
		t.Fatalf("second COMPRESS: %q", out)
	}
	// A megabyte of one line deflates to about a kilobyte; inflated, it meets the line limit.
	out = cmd("x", fmt.Sprintf("SEARCH HEADER Subject %s", strings.Repeat("a", 1<<20)))
	if last := out[len(out)-1]; !strings.HasPrefix(last, "x BAD") && !strings.HasPrefix(last, "* BYE") {
		t.Fatalf("an inflated line over the limit: %q", last)
	}
}

// rawAdvertising opens a raw IMAPS session, logs alice in and fails the test unless the
// capabilities of the login's OK name capability.
func rawAdvertising(t *testing.T, env *gatewaytest.Env, capability string) *raw {
	t.Helper()
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	out := strings.Join(r.cmd("l", "LOGIN alice@localhost "+alicePW), "\n")
	if !strings.Contains(out, " "+capability+" ") && !strings.Contains(out, " "+capability+"]") {
		t.Fatalf("%s not advertised:\n%s", capability, out)
	}
	return r
}

// CATENATE (RFC 4469): a message made of TEXT literals and IMAP URL parts (a section, a
// partial range) of the user's own messages; a URL that names nothing refuses the APPEND
// with NO [BADURL] and its remaining literal is dropped, not run.
func TestCatenate(t *testing.T) {
	env := start(t)
	r := rawAdvertising(t, env, "CATENATE")
	src := "From: foo@example.com\r\nSubject: source\r\n\r\nHello world body\r\n"
	r.cmd("a", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(src), src))
	out := r.cmd("s", "SELECT INBOX")
	uidValidity := ""
	for _, l := range out {
		if _, v, ok := strings.Cut(l, "[UIDVALIDITY "); ok {
			uidValidity, _, _ = strings.Cut(v, "]")
		}
	}
	body := "New body\r\n"
	out = r.cmd("c", fmt.Sprintf(`APPEND INBOX (\Seen) CATENATE (URL "/INBOX;UIDVALIDITY=%s/;UID=1/;SECTION=HEADER" TEXT {%d+}`+"\r\n%s"+
		` URL "imap://alice@localhost/INBOX/;UID=1/;PARTIAL=23.15")`, uidValidity, len(body), body))
	if last := out[len(out)-1]; !strings.HasPrefix(last, "c OK [APPENDUID ") {
		t.Fatalf("CATENATE: %q", out)
	}
	want := "From: foo@example.com\r\nSubject: source\r\n\r\nNew body\r\nSubject: source"
	if got := strings.Join(r.cmd("f", "FETCH 2 BODY.PEEK[]"), "\n"); !strings.Contains(got, fmt.Sprintf("{%d}\n%s", len(want), strings.ReplaceAll(want, "\r\n", "\n"))) {
		t.Fatalf("catenated message:\n%s\nwant %q", got, want)
	}
	for _, bad := range []string{"/INBOX;UIDVALIDITY=12345/;UID=1", "/INBOX/;UID=99", "/Nope/;UID=1", "/INBOX/;UID=1/;SECTION=5", "INBOX/;UID=1"} {
		out := r.cmd("b", fmt.Sprintf(`APPEND INBOX CATENATE (URL "%s" TEXT {4+}`+"\r\nx y )", bad))
		if last := out[len(out)-1]; !strings.HasPrefix(last, "b NO [BADURL ") {
			t.Errorf("URL %s: %q", bad, out)
		}
	}
	if got := r.cmd("n", "STATUS INBOX (MESSAGES)"); len(got) != 2 || !strings.Contains(got[0], "(MESSAGES 2)") {
		t.Fatalf("after refused CATENATEs: %q", got)
	}
}
