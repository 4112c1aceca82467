package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/sealgate/sealgate/gateway/address"
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
	users   map[string]userLookup // by address key
	aliases map[string]aliasLookup
	policy  map[string]map[string]string // nil: not read at gen
}

type userLookup struct {
	u   User
	err error // nil or ErrNotFound
}

type aliasLookup struct {
	a   Alias
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

// UserByAddress finds an account by address (case-insensitively).
func (s *Store) UserByAddress(ctx context.Context, addr address.Address) (User, error) {
	if s.rdb.closed.Load() {
		return User{}, ErrClosed
	}
	key := addr.Key()
	gen := s.directoryLocked()
	l, ok := s.directory.users[key]
	s.directory.mu.Unlock()
	if ok {
		return l.u, l.err
	}
	u, err := s.readUser(ctx, key)
	if err == nil || errors.Is(err, ErrNotFound) {
		s.cacheDirectory(gen, func(c *directoryCache) {
			if c.users == nil || len(c.users) >= maxDirectoryEntries {
				c.users = map[string]userLookup{}
			}
			c.users[key] = userLookup{u, err}
		})
	}
	return u, err
}

// AliasByKey returns one alias, or ErrNotFound. The alias's Targets are shared with other
// callers: do not modify them.
func (s *Store) AliasByKey(ctx context.Context, key string) (Alias, error) {
	if s.rdb.closed.Load() {
		return Alias{}, ErrClosed
	}
	gen := s.directoryLocked()
	l, ok := s.directory.aliases[key]
	s.directory.mu.Unlock()
	if ok {
		return l.a, l.err
	}
	a, err := s.readAlias(ctx, key)
	if err == nil || errors.Is(err, ErrNotFound) {
		s.cacheDirectory(gen, func(c *directoryCache) {
			if c.aliases == nil || len(c.aliases) >= maxDirectoryEntries {
				c.aliases = map[string]aliasLookup{}
			}
			c.aliases[key] = aliasLookup{a, err}
		})
	}
	return a, err
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
