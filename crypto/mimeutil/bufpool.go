package mimeutil

import (
	"bufio"
	"io"
	"sync"
)

// Buffered readers and writers of the sizes the message transforms use, kept for reuse:
// each message would otherwise allocate (and clear) well over 100 KiB of buffers, which
// dominates the garbage a gateway under load makes.
var (
	readers64K = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	writers32K = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}
	writers64K = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

// GetReader returns a 64 KiB buffered reader of r. Give it back with PutReader when done.
func GetReader(r io.Reader) *bufio.Reader {
	br := readers64K.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// PutReader returns a reader from GetReader; br must not be used afterwards.
func PutReader(br *bufio.Reader) {
	br.Reset(nil)
	readers64K.Put(br)
}

// GetWriter returns a buffered writer to w of 32 KiB, or 64 KiB when large is set. Give it
// back with PutWriter when done (after Flush: unflushed data is dropped).
func GetWriter(w io.Writer, large bool) *bufio.Writer {
	p := &writers32K
	if large {
		p = &writers64K
	}
	bw := p.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// PutWriter returns a writer from GetWriter; bw must not be used afterwards.
func PutWriter(bw *bufio.Writer) {
	p := &writers32K
	if bw.Size() == 64<<10 {
		p = &writers64K
	}
	bw.Reset(nil)
	p.Put(bw)
}
