package mimelimit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimelimit"
	"github.com/sealgate/sealgate/crypto/mimelimit/mimelimittest"
)

// wide returns a message with n text parts.
func wide(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=w\r\n\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "--w\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
	}
	b.WriteString("--w--\r\n")
	return b.Bytes()
}

// forwarded returns depth message/rfc822 entities inside each other.
func forwarded(depth int) []byte {
	var b bytes.Buffer
	for i := 0; i < depth; i++ {
		b.WriteString("Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n")
	}
	b.WriteString("Subject: inner\r\n\r\ntext\r\n")
	return b.Bytes()
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"plain", []byte("Subject: x\r\n\r\nbody\r\n"), nil},
		{"depth at the limit", mimelimittest.NestedMessage(mimelimit.MaxDepth), nil},
		{"one level deeper", mimelimittest.NestedMessage(mimelimit.MaxDepth + 1), mimelimit.ErrExceeded},
		{"10,000 levels", mimelimittest.NestedMessage(10000), mimelimit.ErrExceeded},
		{"parts at the limit", wide(mimelimit.MaxParts), nil},
		{"one part more", wide(mimelimit.MaxParts + 1), mimelimit.ErrExceeded},
		{"forwarded at the limit", forwarded(mimelimit.MaxDepth), nil},
		{"forwarded too deep", forwarded(mimelimit.MaxDepth + 1), mimelimit.ErrExceeded},
		{"base64 message/rfc822 is a leaf", []byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp4DQo=\r\n--x--\r\n"), nil},
		// An outer delimiter ends the inner multiparts: the siblings are not nested.
		{"unclosed siblings", bytes.Repeat([]byte("--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n"), 500), nil},
	} {
		msg := tc.msg
		if tc.name == "unclosed siblings" {
			msg = append([]byte("Content-Type: multipart/mixed; boundary=o\r\n\r\n"), msg...)
		}
		if err := mimelimit.Check(bytes.NewReader(msg)); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// A delimiter that only looks like one because a long line was read in pieces is not one.
func TestCheckLongLines(t *testing.T) {
	deep := mimelimittest.NestedMessage(mimelimit.MaxDepth + 5)
	for _, n := range []int{16<<10 - 2, 16<<10 - 1, 16 << 10, 40000} {
		msg := "Content-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\nContent-Type: text/plain\r\n\r\n" +
			strings.Repeat("x", n) + string(deep[bytes.Index(deep, []byte("--b0\r\n")):])
		err := mimelimit.Check(strings.NewReader(msg))
		if n != 40000 && err != nil {
			t.Fatalf("line of %d: %v", n, err)
		}
	}
}

func BenchmarkCheckNested(b *testing.B) {
	mimelimittest.BenchmarkNested(b, func(msg []byte) { mimelimit.Check(bytes.NewReader(msg)) })
}

// FuzzCheck: Check answers every input without panicking, and its answer does not depend on
// how the reader splits the input.
func FuzzCheck(f *testing.F) {
	f.Add(mimelimittest.NestedMessage(3))
	f.Add(mimelimittest.NestedMessage(mimelimit.MaxDepth + 1))
	f.Add(wide(5))
	f.Add(forwarded(3))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"a--\"\r\n\r\n--a--\r\n\r\nx\r\n--a----\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		err := mimelimit.Check(bytes.NewReader(msg))
		if err2 := mimelimit.Check(&oneByte{msg}); (err == nil) != (err2 == nil) {
			t.Fatalf("%v read at once, %v read a byte at a time", err, err2)
		}
	})
}

type oneByte struct{ b []byte }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}
