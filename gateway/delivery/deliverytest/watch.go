package deliverytest

import (
	"sync"
	"time"
)

// watched is the state of a peer that tests read and wait on: a lock, the count of sessions,
// and a channel closed at every change (notify), so that any number of waiters wake.
type watched struct {
	mu       sync.Mutex
	sessions int
	changed  chan struct{}
}

func newWatched() watched { return watched{changed: make(chan struct{})} }

// Sessions counts the connections the peer accepted.
func (w *watched) Sessions() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions
}

// notify wakes the waiters; w.mu is held.
func (w *watched) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// update runs f under the lock and wakes the waiters.
func (w *watched) update(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
	w.notify()
}

// wait blocks until cond holds (checked after every change) or the timeout ends, and reports
// whether it held. The timeout only bounds a broken test; tests never assert on how long
// delivery took.
func (w *watched) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return cond()
		}
	}
}
