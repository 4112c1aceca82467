// Package mimelimittest makes MIME structures at and beyond the bounds of package mimelimit
// for tests, fuzz seeds and benchmarks. It is test-only: nothing outside _test files imports
// it.
package mimelimittest

import (
	"bytes"
	"fmt"
	"testing"
)

// Nested is a message of depth multipart/mixed entities nested around a text part that says
// "innermost". header is the message's own fields (CRLF-terminated lines, no Content-Type).
func Nested(header string, depth int) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\ninnermost\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

// NestedMessage is Nested with a minimal header (From and MIME-Version).
func NestedMessage(depth int) []byte {
	return Nested("From: a@example.test\r\nMIME-Version: 1.0\r\n", depth)
}

// BenchmarkNested runs parse on messages of 100, 10,000 and 20,000 nested levels (see
// NestedMessage), one sub-benchmark each, named by the depth.
func BenchmarkNested(b *testing.B, parse func(msg []byte)) {
	for _, depth := range []int{100, 10000, 20000} {
		msg := NestedMessage(depth)
		b.Run(fmt.Sprint(depth), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for i := 0; i < b.N; i++ {
				parse(msg)
			}
		})
	}
}
