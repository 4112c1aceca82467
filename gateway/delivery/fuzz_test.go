package delivery

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzDataWriter checks the DATA writer against a reference: the output has no bare CR or LF
// and no end marker before its own, and a receiver that removes the stuffed dots gets the input
// with every CRLF, bare CR and bare LF as CRLF, ending in CRLF. Writes are split at a fuzzed
// point so that CRLF and line-start dots straddle them.
func FuzzDataWriter(f *testing.F) {
	for _, s := range []string{"", "a", ".", "\r", "\n", "\r\n", "hello\r.\rMAIL FROM:<x>\r\n", "x\n.\ny", ".\r\n.\r\n", "a\r\r\n.\n\r."} {
		f.Add(s, uint(1))
	}
	f.Fuzz(func(t *testing.T, in string, cut uint) {
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 16)
		dw := newDataWriter(bw)
		k := int(cut % uint(len(in)+1))
		for _, part := range []string{in[:k], in[k:]} {
			if n, err := dw.Write([]byte(part)); n != len(part) || err != nil {
				t.Fatalf("Write: %d, %v", n, err)
			}
		}
		if err := dw.Close(); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		wire := out.Bytes()
		for i, c := range wire {
			if c == '\r' && (i+1 == len(wire) || wire[i+1] != '\n') || c == '\n' && (i == 0 || wire[i-1] != '\r') {
				t.Fatalf("bare %q at %d in %q", c, i, wire)
			}
		}
		if !bytes.HasSuffix(wire, []byte(".\r\n")) {
			t.Fatalf("no end marker: %q", wire)
		}
		body := wire[:len(wire)-3]
		if len(body) > 0 && !bytes.HasSuffix(body, []byte("\r\n")) {
			t.Fatalf("end marker not at a line start: %q", wire)
		}
		lines := bytes.SplitAfter(body, []byte("\r\n"))
		for i, l := range lines {
			if string(l) == ".\r\n" {
				t.Fatalf("end marker inside the content: %q", wire)
			}
			lines[i] = bytes.TrimPrefix(l, []byte("."))
		}
		want := strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n").Replace(in)
		if want != "" && !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		if got := string(bytes.Join(lines, nil)); got != want {
			t.Fatalf("receiver reads %q, want %q", got, want)
		}
	})
}

// BenchmarkDataWriter writes a 10 KiB message with CRLF line ends and a few leading dots, the
// common case, to show what the line-end rule costs per message.
func BenchmarkDataWriter(b *testing.B) {
	msg := []byte(strings.Repeat("Subject: a line of an ordinary message, about seventy bytes.\r\n.dot\r\n", 150))
	bw := bufio.NewWriter(discard{})
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		dw := newDataWriter(bw)
		dw.Write(msg)
		dw.Close()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
