package bodytest

import (
	"io"
	"strings"
	"testing"
)

// TestRepeat: the line repeats across reads of any size, wrapping mid-line.
func TestRepeat(t *testing.T) {
	r := io.LimitReader(Repeat([]byte("abc\n")), 10)
	var sb strings.Builder
	buf := make([]byte, 3)
	for {
		n, err := r.Read(buf)
		sb.Write(buf[:n])
		if err == io.EOF {
			break
		}
	}
	if got, want := sb.String(), "abc\nabc\nab"; got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}
