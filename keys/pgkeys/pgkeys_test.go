package pgkeys_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
	"github.com/sealgate/sealgate/keys/keystest"
	"github.com/sealgate/sealgate/keys/pgkeys"
)

func migrated(t *testing.T) string {
	t.Helper()
	dsn := gatewaytest.PostgresDSN(t)
	if err := pgkeys.Migrate(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func TestConformance(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keystest.Opener {
		dsn := migrated(t)
		return func(t *testing.T) keys.Backend {
			b, err := pgkeys.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	})
}

func TestFilesConformance(t *testing.T) {
	keystest.RunFiles(t, func(t *testing.T) keystest.FilesOpener {
		dsn := migrated(t)
		return func(t *testing.T) keys.Files {
			f, err := pgkeys.OpenFiles(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}
	})
}

func TestSchemaVersions(t *testing.T) {
	ctx := context.Background()
	dsn := gatewaytest.PostgresDSN(t)
	if _, err := pgkeys.Open(ctx, dsn); !errors.Is(err, pgkeys.ErrNoSchema) {
		t.Fatalf("Open before Migrate: %v, want ErrNoSchema", err)
	}
	for range 2 { // a second migration finds nothing to do
		if err := pgkeys.Migrate(ctx, dsn); err != nil {
			t.Fatal(err)
		}
	}
	b, err := pgkeys.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE keyring_meta SET schema_version = $1`, pgkeys.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if _, err := pgkeys.Open(ctx, dsn); !errors.Is(err, keys.ErrSchemaVersion) {
		t.Fatalf("Open of a newer schema: %v, want keys.ErrSchemaVersion", err)
	}
	if err := pgkeys.Migrate(ctx, dsn); !errors.Is(err, keys.ErrSchemaVersion) {
		t.Fatalf("Migrate of a newer schema: %v, want keys.ErrSchemaVersion", err)
	}
}

// TestConcurrentMigrate: nodes started at once may all migrate.
func TestConcurrentMigrate(t *testing.T) {
	dsn := gatewaytest.PostgresDSN(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- pgkeys.Migrate(context.Background(), dsn) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyringOnTwoNodes: keyrings on two nodes share one database and the operator's master
// key. What one node generates the other can use; a change on one is seen by the next lookup
// on the other; secret keys are stored only sealed.
func TestKeyringOnTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	node := func(mk *keys.MasterKey) *keys.Keyring {
		b, err := pgkeys.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		k, err := keys.Open("", mk, keys.Options{Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
		return k
	}
	one, two := node(mk), node(mk)
	const alice = "alice@example.test"
	adm := one.Admin("test")
	pgpEntry, err := adm.GeneratePGP(ctx, alice, keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.GenerateSMIME(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := two.SigningKeyPGP(ctx, alice); err != nil {
		t.Fatalf("the other node cannot sign with the generated key: %v", err)
	}
	if _, err := two.SigningCert(ctx, alice); err != nil {
		t.Fatalf("the other node cannot sign with the generated certificate: %v", err)
	}
	other, err := keys.LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node(other).SigningKeyPGP(ctx, alice); err == nil {
		t.Fatal("a node with another master key unsealed the secret key")
	}

	// At rest: neither secret key, as the operator exports it, is in the database.
	pgpSecret, err := adm.ExportPGP(ctx, alice, true)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := armor.Decode(bytes.NewReader(pgpSecret))
	if err != nil {
		t.Fatal(err)
	}
	pgpBinary, err := io.ReadAll(blk.Body)
	if err != nil {
		t.Fatal(err)
	}
	smimeSecret, err := adm.ExportSMIME(ctx, alice, true)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(smimeSecret)
	if p == nil || p.Type != "PRIVATE KEY" {
		t.Fatalf("S/MIME export does not start with the PKCS#8 key: %q", smimeSecret)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT public, coalesce(sealed, ''), coalesce(chain, '') FROM keyring_entries`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var cols [3][]byte
		if err := rows.Scan(&cols[0], &cols[1], &cols[2]); err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			if bytes.Contains(c, pgpBinary) || bytes.Contains(c, p.Bytes) {
				t.Fatal("a secret key is stored unsealed")
			}
		}
		if len(cols[1]) > 0 {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 3 { // the OpenPGP key, the certificate's key and the built-in CA's
		t.Fatalf("%d sealed secrets stored, want 3", n)
	}

	// A revocation on one node applies to the next lookup on the other.
	if ring, err := two.EncryptionKeysPGP(ctx, alice); err != nil || len(ring) != 1 {
		t.Fatalf("before the revocation: %d keys, %v", len(ring), err)
	}
	if _, err := adm.Revoke(ctx, pgpEntry.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if ring, err := two.EncryptionKeysPGP(ctx, alice); err != nil || len(ring) != 0 {
		t.Fatalf("the other node still encrypts to a revoked key: %d keys, %v", len(ring), err)
	}
}
