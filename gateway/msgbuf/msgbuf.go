// Package msgbuf holds one message while the gateway works on it, between SMTP DATA and the
// durable store.
//
// A Buffer keeps up to its memory limit in RAM. Past that it spills to a temporary file that is
// encrypted with a key that exists only in this process's memory (AES-256-GCM in 64 KiB
// chunks, the chunk number as nonce), so the plaintext of a message that policy will encrypt
// never reaches the disk, and a crash leaves only unreadable ciphertext behind. The temporary
// file is unlinked as soon as it is created; its one owner is the Buffer, and Discard closes it.
//
// A Buffer is written once (Write, then Finish) and may then be read any number of times, each
// NewReader starting at the beginning. It is not safe for concurrent writes; concurrent readers
// are fine after Finish.
package msgbuf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// ErrTooLarge is returned by Write when the message exceeds the buffer's size cap.
var ErrTooLarge = errors.New("msgbuf: message exceeds the size limit")

const chunkSize = 64 << 10

// Options configure a Buffer.
type Options struct {
	// Dir is where the spill file is created; "" means os.TempDir().
	Dir string
	// MemoryLimit is how many bytes stay in RAM before spilling; 0 means 1 MiB.
	MemoryLimit int
	// MaxSize caps the message; Write past it fails with ErrTooLarge. 0 means no cap.
	MaxSize int64
	// SizeHint is the expected size: that much memory (up to MemoryLimit) is reserved at once
	// instead of growing step by step. 0 means unknown.
	SizeHint int
}

// Buffer is one message's bytes, in memory or in an encrypted spill file.
type Buffer struct {
	opts     Options
	mem      []byte
	size     int64
	finished bool

	// spill state
	file    *os.File
	aead    cipher.AEAD
	pending []byte // plaintext of the chunk being filled
	chunks  int64  // chunks written to file
}

// New returns an empty Buffer.
func New(opts Options) *Buffer {
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = 1 << 20
	}
	b := &Buffer{opts: opts}
	if opts.SizeHint > 0 {
		b.mem = make([]byte, 0, min(opts.SizeHint, opts.MemoryLimit))
	}
	return b
}

// FromBytes returns a finished Buffer holding p (not copied).
func FromBytes(p []byte) *Buffer {
	return &Buffer{mem: p, size: int64(len(p)), finished: true, opts: Options{MemoryLimit: len(p)}}
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	if b.finished {
		return 0, errors.New("msgbuf: write after Finish")
	}
	if b.opts.MaxSize > 0 && b.size+int64(len(p)) > b.opts.MaxSize {
		return 0, ErrTooLarge
	}
	if b.file == nil && len(b.mem)+len(p) <= b.opts.MemoryLimit {
		b.mem = append(b.mem, p...)
		b.size += int64(len(p))
		return len(p), nil
	}
	if b.file == nil {
		if err := b.spill(); err != nil {
			return 0, err
		}
	}
	n := 0
	for len(p) > 0 {
		room := chunkSize - len(b.pending)
		take := min(room, len(p))
		b.pending = append(b.pending, p[:take]...)
		p = p[take:]
		n += take
		b.size += int64(take)
		if len(b.pending) == chunkSize {
			if err := b.flushChunk(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// ReadFrom copies r into the buffer, reading straight into memory while the message fits.
func (b *Buffer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	// While the message fits in memory, read straight into it.
	for b.file == nil && !b.finished {
		if len(b.mem) == cap(b.mem) {
			if len(b.mem) >= b.opts.MemoryLimit {
				break
			}
			grown := make([]byte, len(b.mem), min(max(2*cap(b.mem), 16<<10), b.opts.MemoryLimit))
			copy(grown, b.mem)
			b.mem = grown
		}
		n, err := r.Read(b.mem[len(b.mem):cap(b.mem)])
		if b.opts.MaxSize > 0 && b.size+int64(n) > b.opts.MaxSize {
			return total, ErrTooLarge
		}
		b.mem = b.mem[:len(b.mem)+n]
		b.size += int64(n)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := b.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (b *Buffer) spill() error {
	f, err := os.CreateTemp(b.opts.Dir, "sealgate-msg-*")
	if err != nil {
		return err
	}
	// Unlinked at once: the open descriptor is the only way to the data.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		f.Close()
		return err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		f.Close()
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		f.Close()
		return err
	}
	b.file, b.aead = f, aead
	b.pending = make([]byte, 0, chunkSize)
	b.pending = append(b.pending, b.mem...)
	b.mem = nil
	for len(b.pending) >= chunkSize {
		rest := append([]byte(nil), b.pending[chunkSize:]...)
		b.pending = b.pending[:chunkSize]
		if err := b.flushChunk(); err != nil {
			return err
		}
		b.pending = append(b.pending, rest...)
	}
	return nil
}

func (b *Buffer) nonce(i int64) []byte {
	n := make([]byte, b.aead.NonceSize())
	binary.BigEndian.PutUint64(n, uint64(i))
	return n
}

func (b *Buffer) flushChunk() error {
	ct := b.aead.Seal(nil, b.nonce(b.chunks), b.pending, nil)
	if _, err := b.file.WriteAt(ct, b.chunks*int64(chunkSize+b.aead.Overhead())); err != nil {
		return err
	}
	b.chunks++
	b.pending = b.pending[:0]
	return nil
}

// Finish ends writing; the Buffer becomes readable.
func (b *Buffer) Finish() error {
	if b.finished {
		return nil
	}
	b.finished = true
	if b.file != nil && len(b.pending) > 0 {
		return b.flushChunk()
	}
	return nil
}

// Size is the number of bytes written.
func (b *Buffer) Size() int64 { return b.size }

// Bytes returns the content when it is held in memory.
func (b *Buffer) Bytes() ([]byte, bool) {
	if b.file != nil {
		return nil, false
	}
	return b.mem, true
}

// NewReader reads the content from the start. Call it only after Finish.
func (b *Buffer) NewReader() io.Reader {
	if b.file == nil {
		return bytes.NewReader(b.mem)
	}
	return &spillReader{b: b}
}

// Discard releases the memory and the spill file. The Buffer is unusable afterwards.
func (b *Buffer) Discard() error {
	b.mem, b.pending = nil, nil
	if b.file != nil {
		err := b.file.Close()
		b.file = nil
		return err
	}
	return nil
}

type spillReader struct {
	b     *Buffer
	chunk int64
	plain []byte
}

func (r *spillReader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.chunk >= r.b.chunks {
			return 0, io.EOF
		}
		full := chunkSize + r.b.aead.Overhead()
		ct := make([]byte, full)
		n, err := r.b.file.ReadAt(ct, r.chunk*int64(full))
		if err != nil && !(err == io.EOF && n > 0) {
			return 0, err
		}
		pt, err := r.b.aead.Open(ct[:0], r.b.nonce(r.chunk), ct[:n], nil)
		if err != nil {
			return 0, errors.New("msgbuf: spill file damaged")
		}
		r.plain = pt
		r.chunk++
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}
