package smime

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/pgpmime"
)

// TestInnerSMIMEInPGP: openpgp/eml/inner-smime-sig-in-pgp-encrypted.eml
// decrypts (Alice) to a multipart/signed whose "signature" is not CMS: the
// S/MIME check must fail, not pass and not error out.
func TestInnerSMIMEInPGP(t *testing.T) {
	dir := cryptotest.Corpus(t)
	f, err := os.Open(filepath.Join(dir, "openpgp", "keys", "alice@openpgp.example-0xf231550c4f47e38e-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgpmime.ReadKeys(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	msg := cryptotest.ReadFile(t, filepath.Join(dir, "openpgp", "eml", "inner-smime-sig-in-pgp-encrypted.eml"))
	var dec bytes.Buffer
	if _, err := pgpmime.Decrypt(&dec, bytes.NewReader(msg), keys, pgpmime.DecryptOptions{}); err != nil {
		t.Fatal(err)
	}
	roots := pool(loadCert(t, corpusPath(t, "certs/TestCA.pem")))
	r, err := Verify(nil, bytes.NewReader(dec.Bytes()), VerifyOptions{Roots: roots, Now: corpusNow})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if r.Status != StatusBad || r.Valid || !r.Signed {
		t.Fatalf("fake inner S/MIME signature: %+v", r)
	}
}
