package pop3server

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestWriteDotStuffed(t *testing.T) {
	long := strings.Repeat("x", 40000)
	cases := []struct {
		name, in string
		lines    int
		want     string
	}{
		{"crlf", "A: 1\r\n\r\nbody\r\n", -1, "A: 1\r\n\r\nbody\r\n"},
		{"bare lf", "A: 1\n\nbody\nmore", -1, "A: 1\r\n\r\nbody\r\nmore\r\n"},
		{"dots", "A: 1\r\n\r\n.\r\n..x\r\n.\r\n", -1, "A: 1\r\n\r\n..\r\n...x\r\n..\r\n"},
		{"top 0", "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n", 0, "A: 1\r\nB: 2\r\n\r\n"},
		{"top 1", "A: 1\r\n\r\nl1\r\n.l2\r\nl3\r\n", 2, "A: 1\r\n\r\nl1\r\n..l2\r\n"},
		{"top past end", "A: 1\r\n\r\nl1\r\n", 5, "A: 1\r\n\r\nl1\r\n"},
		{"long line", "A: 1\r\n\r\n." + long + "\r\nend\r\n", -1, "A: 1\r\n\r\n.." + long + "\r\nend\r\n"},
		// A CR that ends one buffer and an LF that starts the next are one line end.
		{"crlf split", "A: 1\r\n\r\n" + strings.Repeat("y", 32<<10-1) + "\r\nz\r\n", -1, "A: 1\r\n\r\n" + strings.Repeat("y", 32<<10-1) + "\r\nz\r\n"},
		{"lone cr kept", "A: 1\r\n\r\na\rb\r\n", -1, "A: 1\r\n\r\na\rb\r\n"},
		{"empty", "", -1, ""},
		// The header section ends at its first empty line, one of nothing but CRs included
		// (mimeutil's rule, as everywhere in the gateway); TOP counts body lines from there.
		{"top after cr line", "A: 1\r\n\r\r\nl1\r\nl2\r\n\r\nl3\r\n", 1, "A: 1\r\n\r\r\nl1\r\n"},
		{"top after long header", "A: " + long + "\r\n\nl1\nl2\n", 1, "A: " + long + "\r\n\r\nl1\r\n"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		if err := writeDotStuffed(w, strings.NewReader(c.in), c.lines); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if out.String() != c.want {
			got, want := out.String(), c.want
			if len(got) > 200 {
				got, want = got[len(got)-60:], want[len(want)-60:]
			}
			t.Errorf("%s: got %q, want %q", c.name, got, want)
		}
	}
}

// The in-memory fast path writes exactly what the line-by-line copy writes, for every
// message it accepts, and refuses (writing nothing) those with a bare LF.
func TestWriteStuffedCRLFMatchesLineCopy(t *testing.T) {
	ins := []string{"", ".", "..", ".\r\n", "A: 1\r\n\r\nbody\r\n", "A: 1\r\n\r\n.\r\n..x\r\n.\r\n",
		"A: 1\r\n\r\nno end", "A: 1\r\n\r\nends in cr\r", "a\rb\r\n.c\r\n\r\n.", "\r\n.\r\n.\r\n",
		"A: 1\r\n\r\n" + strings.Repeat("line of text\r\n.dot\r\n", 5000)}
	rng := []byte("ab.\r\n")
	for i := range 2000 {
		b := make([]byte, i%97)
		for j := range b {
			b[j] = rng[(i*7+j*13+j*j)%len(rng)]
		}
		ins = append(ins, strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n"))
	}
	for _, in := range ins {
		var slow, fast bytes.Buffer
		sw, fw := bufio.NewWriter(&slow), bufio.NewWriter(&fast)
		if err := writeDotStuffed(sw, strings.NewReader(in), -1); err != nil {
			t.Fatal(err)
		}
		if !writeStuffedCRLF(fw, []byte(in)) {
			t.Fatalf("%q: fast path refused a CRLF message", in)
		}
		sw.Flush()
		fw.Flush()
		if slow.String() != fast.String() {
			t.Fatalf("%q: fast path wrote %q, line copy %q", in, fast.String(), slow.String())
		}
	}
	for _, in := range []string{"\n", "a\nb\r\n", "A: 1\r\n\r\nbare\n"} {
		var fast bytes.Buffer
		fw := bufio.NewWriter(&fast)
		if writeStuffedCRLF(fw, []byte(in)) {
			t.Fatalf("%q: fast path took a message with a bare LF", in)
		}
		fw.Flush()
		if fast.Len() != 0 {
			t.Fatalf("%q: refused but wrote %q", in, fast.String())
		}
	}
}
