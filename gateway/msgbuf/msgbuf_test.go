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
