package pipeline

import (
	"bytes"
	"strings"
	"testing"
)

func TestDropFields(t *testing.T) {
	dropX := func(name, value []byte) bool { return bytes.EqualFold(name, []byte("X-Drop")) }
	cases := []struct {
		name, in, want string
		removed        int
	}{
		{"nothing to drop", "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n\r\nbody\r\n", 0},
		{"first field", "x-drop: 1\r\nB: 2\r\n\r\nbody\r\n", "B: 2\r\n\r\nbody\r\n", 1},
		{"folded, in the middle", "A: 1\r\nX-Drop: a\r\n\tb\r\n c\r\nB: 2\r\n\r\nX-Drop: in body\r\n", "A: 1\r\nB: 2\r\n\r\nX-Drop: in body\r\n", 1},
		{"last field, twice", "A: 1\r\nX-Drop: a\r\nX-DROP : b\r\n\r\n", "A: 1\r\n\r\n", 2},
		{"bare LF", "A: 1\nX-Drop: a\n b\nB: 2\n\nbody\n", "A: 1\nB: 2\n\nbody\n", 1},
		{"header only, no final newline", "A: 1\r\nX-Drop: a", "A: 1\r\n", 1},
		{"no colon line kept", "A: 1\r\nnot a field\r\nX-Drop: a\r\n\r\n", "A: 1\r\nnot a field\r\n\r\n", 1},
	}
	for _, tc := range cases {
		in := []byte(tc.in)
		out, n := dropFields(in, dropX)
		if string(out) != tc.want || n != tc.removed {
			t.Errorf("%s: got %q (%d removed), want %q (%d)", tc.name, out, n, tc.want, tc.removed)
		}
		if n == 0 && &out[0] != &in[0] {
			t.Errorf("%s: nothing removed, but the message was copied", tc.name)
		}
	}
	// The callback sees trimmed name and value.
	var seen []string
	dropFields([]byte("Authentication-Results :  mx.test; spf=pass \r\n\r\n"), func(name, value []byte) bool {
		seen = append(seen, string(name)+"|"+string(value))
		return false
	})
	if strings.Join(seen, ",") != "Authentication-Results|mx.test; spf=pass" {
		t.Errorf("callback saw %q", seen)
	}
}
