package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealgate/sealgate/crypto/pgpmime"
)

// keys generate --pq: a version 4 key with an RFC 9980 ML-KEM-768+X25519 encryption subkey
// beside its classical one, or with --v6 an ML-DSA-65+Ed25519 key; both export and read back.
func TestKeysGeneratePostQuantum(t *testing.T) {
	d := []string{"--data", filepath.Join(t.TempDir(), "data")}
	for _, c := range []struct {
		args            []string
		algorithm       string
		version, fprLen int
		subkeys         []packet.PublicKeyAlgorithm
	}{
		{[]string{"--pq"}, "ed25519+ml-kem-768+x25519", 4, 40,
			[]packet.PublicKeyAlgorithm{packet.PubKeyAlgoECDH, packet.PubKeyAlgoMlkem768X25519}},
		{[]string{"--pq", "--v6"}, "ml-dsa-65+ed25519", 6, 64,
			[]packet.PublicKeyAlgorithm{packet.PubKeyAlgoMlkem768X25519}},
	} {
		addr := "pq" + c.args[len(c.args)-1][2:] + "@example.test"
		r := mustRun(t, "", append(append(d, "keys", "generate", addr, "--pgp"), c.args...)...)
		fpr := fprRE.FindString(r.stdout)
		if len(fpr) != c.fprLen || !strings.Contains(r.stdout, " "+c.algorithm+" ") {
			t.Fatalf("generate %v: %q", c.args, r.stdout)
		}
		if rows := listJSON(t, d, addr); len(rows) != 1 || rows[0]["fingerprint"] != fpr || rows[0]["secret"] != true {
			t.Fatalf("keys list %s: %v", addr, rows)
		}
		ring, err := pgpmime.ReadKeys(strings.NewReader(mustRun(t, "", append(d, "keys", "export", addr, "--pgp", "--secret")...).stdout))
		if err != nil || len(ring) != 1 {
			t.Fatalf("export --secret: %v", err)
		}
		e := ring[0].Entity()
		if e.PrimaryKey.Version != c.version {
			t.Errorf("%v: version %d key", c.args, e.PrimaryKey.Version)
		}
		var subs []packet.PublicKeyAlgorithm
		for _, s := range e.Subkeys {
			subs = append(subs, s.PublicKey.PubKeyAlgo)
			if s.PrivateKey == nil {
				t.Errorf("%v: subkey %v exported without its secret", c.args, s.PublicKey.PubKeyAlgo)
			}
		}
		if len(subs) != len(c.subkeys) || subs[len(subs)-1] != c.subkeys[len(c.subkeys)-1] || subs[0] != c.subkeys[0] {
			t.Errorf("%v: subkeys %v, want %v", c.args, subs, c.subkeys)
		}
	}
	wantError(t, run(t, "", nil, append(d, "keys", "generate", "x@example.test", "--pgp", "--pq", "--algo", "rsa3072")...), "post-quantum key is made with ed25519")
	wantError(t, run(t, "", nil, append(d, "keys", "generate", "x@example.test", "--smime", "--pq")...), "--pq go with --pgp")
}
