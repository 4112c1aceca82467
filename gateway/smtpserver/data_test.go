package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeDataLines is the DATA decoding of RFC 5321 §4.5.2 written the plain way, one input
// byte at a time, for comparison with dataReader. ok is false when in ends before the end
// marker.
func decodeDataLines(in []byte) (out, rest []byte, ok bool) {
	out = []byte{}
	lineStart := true
	for i := 0; i < len(in); {
		if lineStart {
			if bytes.HasPrefix(in[i:], []byte(".\r\n")) {
				return out, in[i+3:], true
			}
			lineStart = false
			if in[i] == '.' {
				i++
				continue
			}
		}
		c := in[i]
		out = append(out, c)
		lineStart = c == '\n' && i > 0 && in[i-1] == '\r'
		i++
	}
	return out, nil, false
}

// chunkedReader returns its input in pieces of the given sizes, cycling through them.
type chunkedReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), r.sizes[r.i%len(r.sizes)])
	r.i++
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// readData runs in through a dataReader over a bufio.Reader of bufSize, reading into slices
// of readSize, and returns the message, what the connection still holds, and the error.
func readData(t testing.TB, src io.Reader, bufSize, readSize int) (msg, rest []byte, err error) {
	t.Helper()
	br := bufio.NewReaderSize(src, bufSize)
	dr := newDataReader(br, nil)
	p := make([]byte, readSize)
	for {
		n, rerr := dr.Read(p)
		msg = append(msg, p[:n]...)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return msg, nil, rerr
		}
		if n == 0 {
			t.Fatal("Read returned 0, nil")
		}
	}
	rest, _ = io.ReadAll(br)
	return msg, rest, nil
}

var dataCases = []struct {
	name, in, want string
}{
	{"empty message", ".\r\n", ""},
	{"plain", "Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n"},
	{"stuffed dots", "..\r\n..x\r\n...\r\n.y\r\n.\r\n", ".\r\n.x\r\n..\r\ny\r\n"},
	{"dot first", ".a\r\n.\r\n", "a\r\n"},
	{"dots inside lines", "a.b\r\n a.\r\n\r\n.\r\n", "a.b\r\n a.\r\n\r\n"},
	{"bare LF is no line end", "a\n.\nb\n.\r\nc\r\n.\r\n", "a\n.\nb\n.\r\nc\r\n"},
	{"LF then end marker is no end", "x\n.\r\n.\r\n", "x\n.\r\n"},
	{"bare CR is no line end", "x\r.\r\n\r.\r\n.\r\n", "x\r.\r\n\r.\r\n"},
	{"dot CR without LF", ".\rx\r\n.\r\n", "\rx\r\n"},
	{"end marker with LF only is data", "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n"},
	{"CR CR LF", "a\r\r\n.\r\n", "a\r\r\n"},
	{"empty lines", "\r\n\r\n\r\n.\r\n", "\r\n\r\n\r\n"},
	{"long line", strings.Repeat("x", 70000) + "\r\n.\r\n", strings.Repeat("x", 70000) + "\r\n"},
	{"8 bit and NUL", "\x00\xff\xfe\r\n.\r\n", "\x00\xff\xfe\r\n"},
}

func TestDataReader(t *testing.T) {
	const after = "QUIT\r\n"
	for _, tc := range dataCases {
		t.Run(tc.name, func(t *testing.T) {
			if ref, rest, ok := decodeDataLines([]byte(tc.in + after)); !ok || string(ref) != tc.want || string(rest) != after {
				t.Fatalf("reference decoder disagrees with the case: %q %q %v", ref, rest, ok)
			}
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return strings.NewReader(tc.in + after) },
				"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tc.in + after)) },
				"2,3,1,5":  func() io.Reader { return &chunkedReader{data: []byte(tc.in + after), sizes: []int{2, 3, 1, 5}} },
			}
			for rname, mk := range readers {
				for _, bufSize := range []int{16, 17, 4096} {
					for _, readSize := range []int{1, 2, 3, 5, 32 << 10} {
						msg, rest, err := readData(t, mk(), bufSize, readSize)
						if err != nil || string(msg) != tc.want || string(rest) != after {
							t.Fatalf("%s, buffer %d, reads of %d: got %q, rest %q, %v; want %q", rname, bufSize, readSize, trunc(msg), rest, err, trunc([]byte(tc.want)))
						}
					}
				}
			}
		})
	}
}

// TestDataReaderSplitEverywhere cuts the input into two reads at every offset, so that the end
// marker, CRLF and stuffed dots straddle a refill in every possible place.
func TestDataReaderSplitEverywhere(t *testing.T) {
	in := "a\r\n..b\r\n.\rc\r\n\n.\r\n..\r\n\r\n.\r\nNOOP\r\n"
	want, rest, ok := decodeDataLines([]byte(in))
	if !ok || string(rest) != "NOOP\r\n" {
		t.Fatalf("reference: %q %q %v", want, rest, ok)
	}
	for cut := 1; cut < len(in); cut++ {
		src := io.MultiReader(strings.NewReader(in[:cut]), strings.NewReader(in[cut:]))
		msg, gotRest, err := readData(t, src, 16, 32<<10)
		if err != nil || !bytes.Equal(msg, want) || string(gotRest) != "NOOP\r\n" {
			t.Fatalf("cut at %d: got %q rest %q %v, want %q", cut, msg, gotRest, err, want)
		}
	}
}

func TestDataReaderRandomChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", ".", "..", "\r", "\n", "\r\n", "\r\n.", "x.y", "\r\n..\r\n", "\n.\n", "\r.\r"}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := rng.IntN(40); j > 0; j-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		b.WriteString("\r\n.\r\nRSET\r\n")
		in := []byte(b.String())
		want, wantRest, ok := decodeDataLines(in)
		if !ok {
			t.Fatalf("reference found no end in %q", in)
		}
		sizes := []int{1 + rng.IntN(7), 1 + rng.IntN(3), 1 + rng.IntN(20)}
		msg, rest, err := readData(t, &chunkedReader{data: in, sizes: sizes}, 16, 1+rng.IntN(9))
		if err != nil || !bytes.Equal(msg, want) || !bytes.Equal(rest, wantRest) {
			t.Fatalf("input %q chunks %v: got %q rest %q %v, want %q rest %q", in, sizes, msg, rest, err, want, wantRest)
		}
	}
}

func TestDataReaderUnexpectedEOF(t *testing.T) {
	for _, in := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\n.\n", "abc\r\n..\r\n"} {
		_, _, err := readData(t, iotest.OneByteReader(strings.NewReader(in)), 16, 7)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: got %v, want io.ErrUnexpectedEOF", in, err)
		}
	}
}

// TestDataReaderDrain checks that drain stops exactly after the end marker, whatever was
// read before.
func TestDataReaderDrain(t *testing.T) {
	in := "Subject: big\r\n\r\n" + strings.Repeat("0123456789\r\n..dot\r\n", 1000) + ".\r\nNOOP\r\n"
	for _, first := range []int{0, 1, 100, 5000} {
		br := bufio.NewReaderSize(&chunkedReader{data: []byte(in), sizes: []int{1000, 7}}, 16)
		dr := newDataReader(br, nil)
		if _, err := io.ReadFull(dr, make([]byte, first)); err != nil {
			t.Fatal(err)
		}
		if err := drain(dr); err != nil {
			t.Fatal(err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "NOOP\r\n" {
			t.Fatalf("after %d bytes and drain: rest %q", first, rest)
		}
	}
}

// TestDataReaderWait checks that the reader calls wait before every read that may block, and
// only then.
func TestDataReaderWait(t *testing.T) {
	in := "abc\r\n.\r\n"
	waits := 0
	br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16)
	dr := newDataReader(br, func() error { waits++; return nil })
	if _, err := io.ReadAll(dr); err != nil {
		t.Fatal(err)
	}
	// One-byte reads: every byte of the message, then the dot and its CR and LF, is a refill.
	if waits < len("abc\r\n")+1 || waits > len(in) {
		t.Fatalf("%d waits for %d one-byte reads", waits, len(in))
	}
	stop := errors.New("deadline")
	dr = newDataReader(bufio.NewReader(strings.NewReader(in)), func() error { return stop })
	if _, err := dr.Read(make([]byte, 10)); err != stop {
		t.Fatalf("wait's error not returned: %v", err)
	}
}

func TestChunkReader(t *testing.T) {
	in := "Subject: x\r\n.\r\n..\r\nBDAT 0 LAST\r\n"
	for _, bufSize := range []int{16, 4096} {
		br := bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(in)), bufSize)
		cr := &chunkReader{br: br, n: 19}
		got, err := io.ReadAll(cr)
		if err != nil || string(got) != in[:19] {
			t.Fatalf("chunk %q %v", got, err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != in[19:] {
			t.Fatalf("rest %q", rest)
		}
	}
	cr := &chunkReader{br: bufio.NewReader(strings.NewReader("short")), n: 10}
	if _, err := io.ReadAll(cr); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short chunk: %v", err)
	}
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:40]) + "…" + string(b[len(b)-40:])
	}
	return string(b)
}

// BenchmarkData reads a 10 KiB message of 76-character lines, some dot-stuffed, through the
// DATA reader into a message-sized buffer, as a session does.
func BenchmarkData(b *testing.B) {
	var msg strings.Builder
	msg.WriteString("From: a@example.org\r\nTo: b@example.test\r\nSubject: benchmark\r\n\r\n")
	for i := 0; msg.Len() < 10<<10; i++ {
		if i%20 == 0 {
			msg.WriteString("..")
		}
		msg.WriteString(strings.Repeat("abcdefghij", 7) + "0123\r\n")
	}
	in := []byte(msg.String() + ".\r\n")
	src := bytes.NewReader(in)
	br := bufio.NewReaderSize(src, readBufferSize)
	out := make([]byte, 0, 16<<10)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(in)
		br.Reset(src)
		dr := newDataReader(br, nil)
		out = out[:0]
		for {
			n, err := dr.Read(out[len(out):cap(out)])
			out = out[:len(out)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
