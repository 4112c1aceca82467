package keys

import (
	"context"
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// The keyring is read for every message the pipeline processes, and reading it means a
// query, unsealing and parsing (with signature checks) of every key. Two caches make that
// cheap without ever serving a key the store no longer holds in that form:
//
//   - records: the result of each Find, kept while the backend's change counter
//     (Versioned.Version) is unchanged, and for at most recordsTTL. The counter is read before
//     every lookup, so a key deleted, revoked or replaced by any process (the CLI, another
//     node) is seen by the next lookup that starts after its commit; the time limit covers a
//     change the counter missed (a process killed between its commit and its increment).
//     Backends without a counter are not cached.
//   - entities: parsed OpenPGP keys, keyed by fingerprint and a hash of the stored bytes (the
//     public record and the sealed secret), so a changed record is parsed afresh. go-crypto
//     entities are not safe for concurrent use (checking a self-signature records the result
//     in the entity), so every lookup gets its own copy of the cached entity (cloneEntity).

// Versioned is a Backend with a counter that changes whenever any process commits a change.
type Versioned interface {
	Version(ctx context.Context) (int64, error)
}

const maxCachedEntities = 4096

// recordsTTL bounds how long a Find result is reused while the change counter stands still.
const recordsTTL = 10 * time.Second

// entityTTL bounds how long a parsed entity (and the self-signature checks made when it was
// parsed, which depend on the time) is reused.
const entityTTL = 10 * time.Minute

type cache struct {
	mu       sync.Mutex
	version  int64
	valid    bool
	filled   time.Time // when records was started
	records  map[Query][]Record
	entities map[entityKey]cachedEntity
}

type cachedEntity struct {
	e      *openpgp.Entity
	parsed time.Time
}

type entityKey struct {
	fingerprint string
	secret      bool
	sum         [32]byte
}

// findCached is find through the records cache.
func (k *Keyring) findCached(ctx context.Context, q Query, load func() ([]Record, error)) ([]Record, error) {
	vb, ok := k.b.(Versioned)
	if !ok {
		return load()
	}
	v, err := vb.Version(ctx)
	if err != nil {
		return nil, err
	}
	c := &k.cache
	now := k.now()
	c.mu.Lock()
	if !c.valid || c.version != v || now.Sub(c.filled) >= recordsTTL || now.Before(c.filled) {
		c.records, c.version, c.valid, c.filled = nil, v, true, now
	}
	rs, hit := c.records[q]
	c.mu.Unlock()
	if hit {
		return slices.Clone(rs), nil
	}
	rs, err = load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	// Stored under the version read before the query: if a change committed in between, the
	// next lookup sees a newer version and reads again.
	if c.valid && c.version == v {
		if c.records == nil {
			c.records = map[Query][]Record{}
		}
		c.records[q] = slices.Clone(rs)
	}
	c.mu.Unlock()
	return rs, nil
}

// parsedEntity returns a private copy of the entity parsed from data (the public record or
// the unsealed secret of r), parsing only on a miss.
func (k *Keyring) parsedEntity(r Record, secret bool, parse func() (*openpgp.Entity, error)) (*openpgp.Entity, error) {
	h := sha256.New()
	h.Write(r.Public)
	h.Write([]byte{0})
	h.Write(r.Sealed)
	key := entityKey{fingerprint: r.Fingerprint, secret: secret}
	h.Sum(key.sum[:0])
	now := k.now()
	c := &k.cache
	c.mu.Lock()
	var e *openpgp.Entity
	if ce, ok := c.entities[key]; ok && now.Sub(ce.parsed) < entityTTL && !now.Before(ce.parsed) {
		e = cloneEntity(ce.e)
	}
	c.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := parse()
	if err != nil {
		return nil, err
	}
	// Check the self-signatures once, so that copies inherit the results.
	e.EncryptionKey(now, nil)
	e.SigningKey(now, nil)
	c.mu.Lock()
	if c.entities == nil || len(c.entities) >= maxCachedEntities {
		c.entities = map[entityKey]cachedEntity{}
	}
	c.entities[key] = cachedEntity{e: e, parsed: now}
	out := cloneEntity(e)
	c.mu.Unlock()
	return out, nil
}

// cloneEntity copies everything of e that go-crypto writes to while using a key: the
// signature wrappers, whose Valid field caches a verification. Packets (keys, signatures) are
// shared; they are only read.
func cloneEntity(e *openpgp.Entity) *openpgp.Entity {
	out := *e
	out.Revocations = cloneSigs(e.Revocations)
	out.DirectSignatures = cloneSigs(e.DirectSignatures)
	out.Identities = make(map[string]*openpgp.Identity, len(e.Identities))
	for name, id := range e.Identities {
		c := *id
		c.Primary = &out
		c.SelfCertifications = cloneSigs(id.SelfCertifications)
		c.OtherCertifications = cloneSigs(id.OtherCertifications)
		c.Revocations = cloneSigs(id.Revocations)
		out.Identities[name] = &c
	}
	out.Subkeys = make([]openpgp.Subkey, len(e.Subkeys))
	for i, s := range e.Subkeys {
		s.Primary = &out
		s.Bindings = cloneSigs(s.Bindings)
		s.Revocations = cloneSigs(s.Revocations)
		out.Subkeys[i] = s
	}
	return &out
}

func cloneSigs(in []*packet.VerifiableSignature) []*packet.VerifiableSignature {
	if in == nil {
		return nil
	}
	out := make([]*packet.VerifiableSignature, len(in))
	for i, s := range in {
		c := *s
		out[i] = &c
	}
	return out
}
