// Package bodytest makes message content of any size for tests and benchmarks without
// holding it in memory: large-message paths (streamed encryption, chunked storage) are
// exercised with bodies far larger than what a test should allocate. It is imported by tests
// only.
package bodytest

import "io"

// Repeat returns a reader that yields line over and over, forever; bound it with
// io.LimitReader.
func Repeat(line []byte) io.Reader {
	return &repeater{line: line}
}

type repeater struct {
	line []byte
	off  int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}
