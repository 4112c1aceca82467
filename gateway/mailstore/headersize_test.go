package mailstore

import (
	"testing"
)

// The header section ends at its first empty line. A message written with bare LF whose body
// holds CRLF line pairs (a pasted or re-encoded part) has its header end at the LF pair, not
// at the later CRLF pair, and a stream finds the same end as whole content.
func TestHeaderSizeFirstEmptyLine(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want int64
	}{
		{"A: 1\r\n\r\nbody\r\n", 8},
		{"A: 1\n\nbody\r\n\r\nmore\r\n", 6},
		{"A: 1\r\n\nbody\n\nmore", 7},
		{"A: 1\r\nB: 2", 10},
	} {
		if got := HeaderSize([]byte(c.msg)); got != c.want {
			t.Errorf("HeaderSize(%q) = %d, want %d", c.msg, got, c.want)
		}
		var w HeaderWatcher
		for _, b := range []byte(c.msg) {
			w.Write([]byte{b})
		}
		if w.Size() != c.want {
			t.Errorf("HeaderWatcher on %q: %d, want %d", c.msg, w.Size(), c.want)
		}
	}
}
