package keys_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/keys"
)

// TestCacheSeesOtherProcess: a server's keyring caches lookups; a key revoked, deleted or
// added through another Keyring on the same directory (the CLI is another process) is seen
// by the server's very next lookup.
func TestCacheSeesOtherProcess(t *testing.T) {
	ctx := context.Background()
	server := newKeyring(t)
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(server.dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	// The CLI shares the server's clock: with its own, a key it made just after a second
	// boundary would be newer than the server's frozen now, and not yet valid there.
	cli, err := keys.Open(server.dir, mk, keys.Options{Now: func() time.Time { return server.now }})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	adm := cli.Admin("cli")

	count := func(what string) (enc, dec int) {
		t.Helper()
		e, err := server.EncryptionKeysPGP(ctx, "c@keys.test")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		d, err := server.DecryptionKeysPGP(ctx, "c@keys.test")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return len(e), len(d)
	}
	if e, d := count("empty"); e != 0 || d != 0 {
		t.Fatalf("before any key: %d encryption, %d decryption keys", e, d)
	}
	first, err := adm.GeneratePGP(ctx, "c@keys.test", keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the second and third lookups come from the cache
		if e, d := count("generated"); e != 1 || d != 1 {
			t.Fatalf("after generate: %d encryption, %d decryption keys", e, d)
		}
	}
	if _, err := adm.Revoke(ctx, first.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if e, _ := count("revoked"); e != 0 {
		t.Fatalf("a revoked key is still chosen for encryption")
	}
	if _, err := server.SigningKeyPGP(ctx, "c@keys.test"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("a revoked key still signs: %v", err)
	}
	second, err := adm.GeneratePGP(ctx, "c@keys.test", keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := server.EncryptionKeysPGP(ctx, "c@keys.test")
	if err != nil || len(ring) != 1 || ring[0].Fingerprint() != second.Fingerprint {
		t.Fatalf("after a new key: %v %v", ring, err)
	}
	if _, err := adm.Delete(ctx, second.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if e, _ := count("deleted"); e != 0 {
		t.Fatalf("a deleted key is still served")
	}
	if _, d := count("deleted"); d != 1 { // the revoked first key still opens old mail
		t.Fatalf("decryption keys after delete: %d", d)
	}
}

// TestCacheConcurrentUse: cached keys are copied per lookup, so concurrent encryption and
// signing with the same key is race-free (run with -race).
func TestCacheConcurrentUse(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	if _, err := tk.adm.GeneratePGP(ctx, "p@keys.test", keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				ring, err := tk.EncryptionKeysPGP(ctx, "p@keys.test")
				if err != nil || len(ring) != 1 {
					t.Errorf("lookup: %v %v", ring, err)
					return
				}
				signer, err := tk.SigningKeyPGP(ctx, "p@keys.test")
				if err != nil {
					t.Errorf("signing key: %v", err)
					return
				}
				ent := ring[0].Entity()
				if _, ok := ent.EncryptionKey(time.Now(), nil); !ok {
					t.Error("no encryption key")
				}
				if _, ok := signer.Entity().SigningKey(time.Now(), nil); !ok {
					t.Error("no signing key")
				}
				_ = pgpmime.KeyRing{signer}
			}
		})
	}
	wg.Wait()
}
