package smtpserver

import (
	"sync/atomic"
	"time"
)

// workerIdle is how long a goroutine that has served a connection waits for the next one.
const workerIdle = 10 * time.Second

// workers serves connections on goroutines that stay for the next connection a while. A new
// goroutine's stack starts small and is copied each time it doubles while its first message
// goes through the pipeline (MIME, OpenPGP, SQLite); with a connection per message, as most
// senders make, that growth was about 3 % of the server's CPU. A goroutine that has served a
// connection keeps its grown stack for the next.
type workers struct {
	handoff chan func()   // unbuffered: a send succeeds only if a worker is waiting
	stop    chan struct{} // closed at Shutdown: waiting workers end
	started atomic.Int64  // goroutines started so far
	waiting atomic.Int64  // workers waiting for a connection
}

func newWorkers() *workers {
	return &workers{handoff: make(chan func()), stop: make(chan struct{})}
}

// run runs f (serving one connection) on a waiting worker, or on a new one if none waits.
func (w *workers) run(f func()) {
	select {
	case w.handoff <- f:
	default:
		w.started.Add(1)
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		f()
		t.Reset(workerIdle)
		w.waiting.Add(1)
		select {
		case f = <-w.handoff:
			w.waiting.Add(-1)
		case <-t.C:
			w.waiting.Add(-1)
			return
		case <-w.stop:
			w.waiting.Add(-1)
			return
		}
	}
}
