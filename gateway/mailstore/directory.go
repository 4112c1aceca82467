package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
)

// The directory (accounts, aliases, policy settings) is read for every recipient of every
// message, and changed rarely, by the CLI or web mail. directoryCache keeps what was read in
// memory for as long as the store's change counter (DIR/mail.changes, see package
// changecount) stays the same: every write to the directory adds one to it after its commit,
// in whichever process made it, so the next lookup anywhere reads afresh. Reading the counter
// is a memory load, where a query per lookup cost a read transaction each.
//
// A copy is also dropped after directoryTTL, which bounds how long a change the counter missed
// stays unseen: one made with other tools than Sealgate's, or by a process killed between its
// commit and its increment.
const directoryTTL = 10 * time.Second

// maxDirectoryEntries bounds each map: lookups of addresses that do not exist are cached too,
// and a client may make up any number of them.
const maxDirectoryEntries = 4096

type directoryCache struct {
	mu      sync.Mutex
	gen     uint64 // the counter when the maps were started
	started time.Time
	users   map[string]lookup[User] // by address key
	aliases map[string]lookup[Alias]
	policy  map[string]map[string]string // nil: not read at gen
}

// lookup is one cached answer: a value, or ErrNotFound.
type lookup[V any] struct {
	v   V
	err error
}

// directoryLocked locks the cache, first emptying it if the counter moved or its maps are too
// old, and returns the counter. The caller unlocks.
func (s *Store) directoryLocked() uint64 {
	c := &s.directory
	gen := s.changes.Load()
	c.mu.Lock()
	now := s.opts.Now()
	if gen != c.gen || now.Sub(c.started) >= directoryTTL {
		c.gen, c.started = gen, now
		c.users, c.aliases, c.policy = nil, nil, nil
	}
	return gen
}

// cacheDirectory runs put with c.mu held if the counter is still gen: a value read after the
// counter moved belongs to the next generation, which reads it again.
func (s *Store) cacheDirectory(gen uint64, put func(c *directoryCache)) {
	c := &s.directory
	c.mu.Lock()
	if c.gen == gen {
		put(c)
	}
	c.mu.Unlock()
}

// writeDirectory is write for a change to the directory: once it has committed, every
// process's directory cache is stale.
func (s *Store) writeDirectory(ctx context.Context, fn func(tx *sql.Tx) error) error {
	err := s.write(ctx, fn)
	s.changes.Add() // after a failure too: cheap, and an unclear outcome may have committed
	return err
}

// cachedLookup answers key from the map m selects, reading it with read on a miss. Misses
// (ErrNotFound) are cached too; other errors are not.
func cachedLookup[V any](s *Store, m func(*directoryCache) *map[string]lookup[V], key string, read func() (V, error)) (V, error) {
	if s.rdb.closed.Load() {
		var zero V
		return zero, ErrClosed
	}
	gen := s.directoryLocked()
	l, ok := (*m(&s.directory))[key]
	s.directory.mu.Unlock()
	if ok {
		return l.v, l.err
	}
	v, err := read()
	if err == nil || errors.Is(err, ErrNotFound) {
		s.cacheDirectory(gen, func(c *directoryCache) {
			mp := m(c)
			if *mp == nil || len(*mp) >= maxDirectoryEntries {
				*mp = map[string]lookup[V]{}
			}
			(*mp)[key] = lookup[V]{v, err}
		})
	}
	return v, err
}

// UserByAddress finds an account by address (case-insensitively).
func (s *Store) UserByAddress(ctx context.Context, addr address.Address) (User, error) {
	key := addr.Key()
	return cachedLookup(s, func(c *directoryCache) *map[string]lookup[User] { return &c.users }, key,
		func() (User, error) { return s.readUser(ctx, key) })
}

// AliasByKey returns one alias, or ErrNotFound. The alias's Targets are shared with other
// callers: do not modify them.
func (s *Store) AliasByKey(ctx context.Context, key string) (Alias, error) {
	return cachedLookup(s, func(c *directoryCache) *map[string]lookup[Alias] { return &c.aliases }, key,
		func() (Alias, error) { return s.readAlias(ctx, key) })
}

// PolicySettings returns every stored setting: scope → key → value. The map is shared between
// callers until the settings change: do not modify it. A change made by any process is seen by
// the next call.
func (s *Store) PolicySettings(ctx context.Context) (map[string]map[string]string, error) {
	if s.rdb.closed.Load() {
		return nil, ErrClosed
	}
	gen := s.directoryLocked()
	p := s.directory.policy
	s.directory.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := s.readPolicySettings(ctx)
	if err != nil {
		return nil, err
	}
	s.cacheDirectory(gen, func(c *directoryCache) { c.policy = p })
	return p, nil
}
