package keys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sealgate/sealgate/keys"
)

// FuzzImport feeds arbitrary files to keys import: it must never panic, and what it accepts
// must be listed afterwards; what it refuses must leave no trace.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"gpg-rsa-pub.asc", "gpg-ed-pub.gpg", "gpg-ed-secret-pass.asc", "rsa.pem", "rsa.der",
		"rsa.p12", "ec-key.pem", "ca.pem"} {
		f.Add(fixture(f, name))
	}
	tk := newKeyring(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		before, err := tk.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		es, err := tk.adm.Import(ctx, data, keys.ImportOptions{Passphrase: []byte(edPassphrase), AllowExpired: true})
		after, lerr := tk.List(ctx, "")
		if lerr != nil {
			t.Fatal(lerr)
		}
		if err != nil {
			if !errors.Is(err, keys.ErrRefused) && !errors.Is(err, keys.ErrNotFound) {
				t.Fatalf("import error is not a refusal: %v", err)
			}
			if len(after) != len(before) {
				t.Fatalf("refused import changed the keyring: %d -> %d", len(before), len(after))
			}
			return
		}
		for _, e := range es {
			if _, err := tk.Entry(ctx, e.Fingerprint); err != nil {
				t.Fatalf("imported %s is not stored: %v", e.Fingerprint, err)
			}
		}
	})
}
