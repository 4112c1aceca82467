package pipeline

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/keys"
)

// countingLookup counts the encryption-key lookups that reach the keyring.
type countingLookup struct {
	keys.Lookup
	enc atomic.Int64
}

func (c *countingLookup) EncryptionKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error) {
	c.enc.Add(1)
	return c.Lookup.EncryptionKeysPGP(ctx, addr)
}

// A message encrypted at rest for one recipient looks the recipient's keys up in the keyring
// once (the decision and the encryption share it), and the next message looks them up again,
// so a key revoked in between is not used.
func TestKeyLookupsOncePerMessage(t *testing.T) {
	e := newAtRestEnv(t)
	counter := &countingLookup{Lookup: e.kr}
	e.p = New(Options{Hostname: "mx.example.test", Store: e.store, Policy: e.store, Keys: counter})
	for i := 1; i <= 2; i++ {
		if err := e.process(RoleMX, "alice@example.test", plainMsg("alice@example.test"), "bob@example.test"); err != nil {
			t.Fatal(err)
		}
		if n := counter.enc.Load(); n != int64(i) {
			t.Fatalf("after %d messages: %d encryption-key lookups reached the keyring, want %d", i, n, i)
		}
	}
	for _, got := range e.inbox("bob@example.test") {
		if !bytes.Contains(got, []byte("multipart/encrypted")) || bytes.Contains(got, []byte(secret)) {
			t.Fatalf("not stored encrypted:\n%s", got)
		}
	}
}
