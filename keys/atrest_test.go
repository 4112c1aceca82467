package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/ecdh"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/ProtonMail/go-crypto/openpgp/x25519"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/sealgate/sealgate/keys"
)

// After importing and generating secret keys, no file under the data directory (the
// database, its WAL, anything) holds secret key material in plaintext.
func TestNoSecretKeyMaterialOnDisk(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	var secrets [][]byte

	tk.mustImport(t, fixture(t, "gpg-rsa-secret.asc"), keys.ImportOptions{})
	tk.mustImport(t, fixture(t, "gpg-ed-secret-pass.asc"), keys.ImportOptions{Passphrase: []byte(edPassphrase)})
	tk.mustImport(t, fixture(t, "rsa.p12"), keys.ImportOptions{Passphrase: []byte(p12Passphrase)})
	tk.mustImport(t, append(fixture(t, "ec.pem"), fixture(t, "ec-key.pem")...), keys.ImportOptions{})
	tk.mustImport(t, append(fixture(t, "ed25519.pem"), fixture(t, "ed25519-key.pem")...), keys.ImportOptions{})
	if _, err := tk.adm.GeneratePGP(ctx, "gen@keys.test", keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.adm.GenerateSMIME(ctx, "gen@keys.test"); err != nil {
		t.Fatal(err)
	}

	secrets = append(secrets, pgpSecrets(t, fixture(t, "gpg-rsa-secret.asc"), nil)...)
	secrets = append(secrets, pgpSecrets(t, fixture(t, "gpg-ed-secret-pass.asc"), []byte(edPassphrase))...)
	priv, _, _, err := pkcs12.DecodeChain(fixture(t, "rsa.p12"), p12Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, x509Secrets(t, priv)...)
	for _, f := range []string{"ec-key.pem", "ed25519-key.pem"} {
		blk, _ := pem.Decode(fixture(t, f))
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, x509Secrets(t, k)...)
	}
	// The generated keys, as an operator would export them.
	sec, err := tk.adm.ExportPGP(ctx, "gen@keys.test", true)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, pgpSecrets(t, sec, nil)...)
	smimeSec, err := tk.adm.ExportSMIME(ctx, "gen@keys.test", true)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(smimeSec)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, x509Secrets(t, k)...)
	if len(secrets) < 12 {
		t.Fatalf("only %d secret values collected", len(secrets))
	}

	// Also the encodings a careless implementation would write.
	var needles [][]byte
	for _, s := range secrets {
		needles = append(needles, s, []byte(base64.StdEncoding.EncodeToString(s)))
	}
	needles = append(needles, []byte("PRIVATE KEY"), bytes.TrimSpace(fixture(t, "rsa-key.pem"))[40:100])

	check := func() int {
		files, hits := scanFiles(t, tk.dir, needles)
		for _, h := range hits {
			t.Error(h)
		}
		return files
	}
	check() // while open: the WAL holds the recent writes
	tk.Close()
	if files := check(); files < 2 { // keys.db and master.key at least
		t.Fatalf("scanned only %d files", files)
	}
	// The scan finds what it looks for: every needle planted in a file is reported.
	planted := t.TempDir()
	for i, n := range needles {
		writeFile(t, planted, fmt.Sprintf("f%d", i), append([]byte("xx"), n...))
	}
	if _, hits := scanFiles(t, planted, needles); len(hits) < len(needles) {
		t.Fatalf("scan found %d of %d planted secrets", len(hits), len(needles))
	}
}

// scanFiles reports every file under dir that contains one of the needles.
func scanFiles(t testing.TB, dir string, needles [][]byte) (files int, hits []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for i, n := range needles {
			if bytes.Contains(data, n) {
				hits = append(hits, fmt.Sprintf("%s holds secret value %d (%d bytes) in plaintext", path, i, len(n)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, hits
}

// pgpSecrets returns the secret values (RSA d, p, q; EdDSA and ECDH scalars) of every secret
// (sub)key in an OpenPGP secret key file.
func pgpSecrets(t testing.TB, data, passphrase []byte) [][]byte {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range el {
		if passphrase != nil {
			if err := e.DecryptPrivateKeys(passphrase); err != nil {
				t.Fatal(err)
			}
		}
		pks := []*packet.PrivateKey{e.PrivateKey}
		for _, s := range e.Subkeys {
			pks = append(pks, s.PrivateKey)
		}
		for _, pk := range pks {
			switch k := pk.PrivateKey.(type) {
			case *rsa.PrivateKey:
				out = append(out, k.D.Bytes(), k.Primes[0].Bytes(), k.Primes[1].Bytes())
			case *eddsa.PrivateKey:
				out = append(out, k.D)
			case *ecdh.PrivateKey:
				out = append(out, k.D)
			case *x25519.PrivateKey:
				out = append(out, k.Secret)
			default:
				t.Fatalf("secret key type %T not covered by the scan", k)
			}
		}
	}
	return out
}

func x509Secrets(t testing.TB, k any) [][]byte {
	t.Helper()
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return [][]byte{k.D.Bytes(), k.Primes[0].Bytes(), k.Primes[1].Bytes()}
	case *ecdsa.PrivateKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return [][]byte{b}
	case ed25519.PrivateKey:
		return [][]byte{k.Seed()}
	}
	t.Fatalf("private key type %T not covered by the scan", k)
	return nil
}
