package queue

import (
	"context"
	"sync"
)

// limiter bounds concurrent sessions in total and per destination domain.
type limiter struct {
	total, perKey int

	mu    sync.Mutex
	n     int
	byKey map[string]int
	freed chan struct{} // closed and replaced at each release
}

func newLimiter(total, perKey int) *limiter {
	return &limiter{total: total, perKey: perKey, byKey: map[string]int{}, freed: make(chan struct{})}
}

func (l *limiter) acquire(ctx context.Context, key string) error {
	for {
		l.mu.Lock()
		if l.n < l.total && l.byKey[key] < l.perKey {
			l.n++
			l.byKey[key]++
			l.mu.Unlock()
			return nil
		}
		ch := l.freed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *limiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byKey[key]--; l.byKey[key] <= 0 {
		delete(l.byKey, key)
	}
	close(l.freed)
	l.freed = make(chan struct{})
}
