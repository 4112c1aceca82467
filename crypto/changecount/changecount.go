// Package changecount is a change counter shared by every process that opens one data
// directory (the server, the CLI, a second server on the same files): a 64-bit number in a
// small file that each process maps into memory. A process that commits a change adds one; a
// process that keeps what it read in memory compares the number with the one it saw when it
// read, and reads again when they differ. Reading the counter is one memory load: no system
// call and no query, so a cache can check it on every lookup.
//
// The counter says that something may have changed, never what. It is not durable and needs
// not be: it lives in shared memory while any process has it open, and a process that starts
// has nothing cached. A writer adds one after its commit; a reader reads the counter before
// it reads the data, so whatever it read before that commit is filed under a number the
// increment makes stale. Only a writer that dies between its commit and its increment leaves
// readers with an old copy; callers therefore also bound how long they keep a copy (see the
// mail store's and the keyring's caches).
package changecount

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Counter is one mapped counter. Its methods are safe for concurrent use, within and across
// processes. It has no Close: the mapping is removed once the Counter is garbage, so a lookup
// racing with the close of its store never reads unmapped memory.
type Counter struct {
	n *atomic.Uint64
}

// size of the file: one page, so that the mapping never reaches past its end.
const size = 4096

// Open maps the counter kept in path, creating the file (mode 0600) if it does not exist.
func Open(path string) (*Counter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("changecount: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("changecount: %w", err)
	}
	// Growing is idempotent, so processes that create the file at once agree; it never shrinks
	// (a shorter file would make the mapping fault).
	if st.Size() < size {
		if err := f.Truncate(size); err != nil {
			return nil, fmt.Errorf("changecount: %s: %w", path, err)
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("changecount: map %s: %w", path, err)
	}
	// A mapping starts on a page boundary, so the first 8 bytes are aligned for atomic access.
	c := &Counter{n: (*atomic.Uint64)(unsafe.Pointer(&mem[0]))}
	runtime.AddCleanup(c, func(mem []byte) { syscall.Munmap(mem) }, mem)
	return c, nil
}

// Load returns the counter.
func (c *Counter) Load() uint64 { return c.n.Load() }

// Add records a change.
func (c *Counter) Add() { c.n.Add(1) }
