package imapserver_test

import (
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"strings"
	"testing"
)

// COMPRESS=DEFLATE (RFC 4978) with Go's compress/flate as the client: after the tagged OK
// both directions are raw deflate, every response arrives without the client sending more,
// a second COMPRESS is refused with NO [COMPRESSIONACTIVE], and a line that inflates past
// the line limit is refused like an uncompressed one.
func TestCompressDeflate(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	appendMsg(t, c, "INBOX", simpleMsg("compressed", strings.Repeat("body line\n", 2000)), nil)
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	if out := strings.Join(r.cmd("l", "LOGIN alice@localhost "+alicePW), "\n"); !strings.Contains(out, " COMPRESS=DEFLATE") {
		t.Fatalf("COMPRESS=DEFLATE not advertised:\n%s", out)
	}
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
