package mailstore

import (
	"context"
	"sync"
)

// maildropLocks holds the users whose maildrop a POP3 session has locked. The embedded store
// serves one gateway process, so the lock lives in its memory: every POP3 listener of the
// process (pop3 and pop3s) shares it through the store.
type maildropLocks struct {
	mu     sync.Mutex
	locked map[int64]bool
}

// LockMaildrop takes the user's maildrop lock (RFC 1939: one session in the TRANSACTION state
// per maildrop). It fails with ErrInUse while another session holds it, and with ErrClosed
// once the store is closed. release gives the lock up; calling it again does nothing.
func (s *Store) LockMaildrop(ctx context.Context, userID int64) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.rdb.closed.Load() {
		return nil, ErrClosed
	}
	m := &s.drops
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked[userID] {
		return nil, ErrInUse
	}
	if m.locked == nil {
		m.locked = map[int64]bool{}
	}
	m.locked[userID] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.locked, userID)
			m.mu.Unlock()
		})
	}, nil
}
