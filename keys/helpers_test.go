package keys_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/keys"
)

// Fixtures in testdata/keys (see its README.txt), with the fingerprints gpg and openssl print.
const (
	fprGPGRSA     = "9F9C0C413DD50165AE41368830963B48701F4A5B"
	fprGPGEd      = "CF0476BFC4C460746FFB5B05F0F97F19772B5059"
	fprGPGExpired = "DDA312E274EFB2652F3B5DBA9DEB1C108403809C"
	fprX509RSA    = "59B037DDCB0DCE5C615A7C7CCF13439C8A8C01150D9B7D1D5321BF7A0A7C1609"
	fprX509EC     = "A29ACD47EA88234C0C5142822B8C9CCD62EDA04EF7060E4A39A3D120072E1C06"
	fprX509Ed     = "D50583D1ABDE18307F9BEBB3D5311EA295778895C53DEE0347A2EC670B8567C7"
	fprX509CA     = "DD1069A2B8043EDC4BDEBC1913F795C33868E5ED8D71C69F9545BA8509B95557"
	edPassphrase  = "correct horse"
	p12Passphrase = "p12 secret"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixturePath(name string) string {
	return filepath.Join("..", "testdata", "keys", name)
}

// testKeyring opens a keyring in a fresh data directory with a clock the test may move.
type testKeyring struct {
	*keys.Keyring
	dir string
	now time.Time
	adm *keys.Admin
}

func newKeyring(t testing.TB) *testKeyring {
	t.Helper()
	return newKeyringWith(t, address.Subaddressing{Separator: "+"})
}

// newKeyringWith opens a test keyring with the sub-address rule sub.
func newKeyringWith(t testing.TB, sub address.Subaddressing) *testKeyring {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	tk := &testKeyring{dir: dir, now: time.Now()}
	kr, err := keys.Open(dir, mk, keys.Options{Now: func() time.Time { return tk.now }, Subaddressing: sub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	tk.Keyring = kr
	tk.adm = kr.Admin("test")
	return tk
}

func (tk *testKeyring) mustImport(t testing.TB, data []byte, opts keys.ImportOptions) []keys.Entry {
	t.Helper()
	es, err := tk.adm.Import(context.Background(), data, opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return es
}

// fingerprints lists the primary key fingerprints g holds ("sec" with secret).
func fingerprints(g *peertest.GPG, secret bool) []string {
	arg := "--list-keys"
	prefix := "pub:"
	if secret {
		arg, prefix = "--list-secret-keys", "sec:"
	}
	out := g.MustRun(nil, "--with-colons", arg)
	var fprs []string
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "fpr:") {
			f := strings.Split(lines[i+1], ":")
			fprs = append(fprs, f[9])
		}
	}
	return fprs
}

func mustOpenSSL(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	return peertest.MustRun(t, stdin, "openssl", args...)
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
