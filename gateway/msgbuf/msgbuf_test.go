package msgbuf

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestBufferInMemoryAndSpilled(t *testing.T) {
	for _, size := range []int{0, 10, 1000, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		dir := t.TempDir()
		data := make([]byte, size)
		rand.Read(data)
		b := New(Options{Dir: dir, MemoryLimit: 1000})
		// Write in odd pieces to cross chunk borders.
		for p := data; len(p) > 0; {
			n := min(len(p), 777)
			if _, err := b.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		if b.Size() != int64(size) {
			t.Fatalf("size %d, want %d", b.Size(), size)
		}
		_, inMem := b.Bytes()
		if inMem != (size <= 1000) {
			t.Fatalf("size %d: in memory = %v", size, inMem)
		}
		for i := 0; i < 2; i++ { // readable more than once
			got, err := io.ReadAll(b.NewReader())
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("size %d read %d: %d bytes, err %v", size, i, len(got), err)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Fatalf("spill file is visible in the directory: %v", entries)
		}
		b.Discard()
	}
}

func TestSpillFileHoldsNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	b := New(Options{Dir: dir, MemoryLimit: 16})
	secret := bytes.Repeat([]byte("TOP-SECRET-PLAINTEXT "), 10000)
	b.Write(secret)
	b.Finish()
	// The file is unlinked; read it through the descriptor.
	raw, err := os.ReadFile(filepath.Join("/proc/self/fd", fdName(b.file)))
	if err != nil {
		t.Skip("cannot read /proc/self/fd:", err)
	}
	if len(raw) == 0 || bytes.Contains(raw, []byte("TOP-SECRET")) {
		t.Fatalf("spill file (%d bytes) contains plaintext", len(raw))
	}
}

func fdName(f *os.File) string { return strconv.Itoa(int(f.Fd())) }

func TestMaxSize(t *testing.T) {
	b := New(Options{MaxSize: 10})
	if _, err := b.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

// ReadFrom reads into memory while the message fits and spills beyond the limit; with or
// without a size hint, across the limit and chunk boundaries, and reading in odd pieces.
func TestReadFrom(t *testing.T) {
	for _, hint := range []int{0, 100, 5000} {
		for _, size := range []int{0, 1, 999, 1000, 1001, chunkSize + 5, 2*chunkSize + 1} {
			data := make([]byte, size)
			rand.Read(data)
			b := New(Options{Dir: t.TempDir(), MemoryLimit: 1000, SizeHint: hint})
			n, err := b.ReadFrom(io.LimitReader(&oddReader{r: bytes.NewReader(data)}, int64(size)))
			if err != nil || n != int64(size) {
				t.Fatalf("hint %d size %d: ReadFrom %d, %v", hint, size, n, err)
			}
			if err := b.Finish(); err != nil {
				t.Fatal(err)
			}
			if _, inMem := b.Bytes(); inMem != (size <= 1000) {
				t.Fatalf("hint %d size %d: in memory = %v", hint, size, inMem)
			}
			got, err := io.ReadAll(b.NewReader())
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("hint %d size %d: read back %d bytes, %v", hint, size, len(got), err)
			}
			b.Discard()
		}
	}
	b := New(Options{MaxSize: 10})
	if _, err := b.ReadFrom(bytes.NewReader(make([]byte, 11))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFrom past MaxSize: %v, want ErrTooLarge", err)
	}
}

// oddReader returns at most 333 bytes a read.
type oddReader struct{ r io.Reader }

func (o *oddReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 333)]) }
