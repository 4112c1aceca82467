package gateway_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/keys"
)

// Post-quantum OpenPGP (RFC 9980) end to end. No OpenPGP tool in Debian 12 reads RFC 9980
// (GnuPG 2.2.40, sq 0.27 / sequoia-openpgp 1.12, RNP 0.16 with Botan 2): the post-quantum
// messages are checked by go-crypto and by the gateway itself; gpg and sq show that the
// version 4 PQ key still works for them through its classical subkey (RNP 0.16 refuses to
// load it).

// pkeskAlgorithms lists the public-key algorithms of the PKESK packets of a PGP/MIME message.
func pkeskAlgorithms(t *testing.T, msg []byte) []packet.PublicKeyAlgorithm {
	algos, _ := sessionInfo(t, msg)
	return algos
}

// sessionInfo is pkeskAlgorithms with the version of the encrypted data packet.
func sessionInfo(t *testing.T, msg []byte) ([]packet.PublicKeyAlgorithm, int) {
	t.Helper()
	blk, err := armor.Decode(bytes.NewReader(pgpBlock(t, msg)))
	if err != nil {
		t.Fatal(err)
	}
	var out []packet.PublicKeyAlgorithm
	r := packet.NewReader(blk.Body)
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out, 0
		}
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			out = append(out, p.Algo)
		case *packet.SymmetricallyEncrypted:
			return out, p.Version
		}
	}
}

func TestE2EPostQuantumAtRest(t *testing.T) {
	env, admin := securityEnv(t)
	ctx := context.Background()
	generatePGP(t, admin, "bob@localhost", keys.PGPOptions{PQ: true})
	entries, err := env.GW.Keyring().Entries(ctx, "bob@localhost")
	if err != nil || len(entries) != 1 || entries[0].Algorithm != "ed25519+ml-kem-768+x25519" {
		t.Fatalf("keys list: %v %+v", err, entries)
	}
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "pgp", "inbound.decrypt", "false")
	const marker = "PQ-Plaintext-Not-On-Disk-5e1d"
	mustMX(t, env, "sender@outside.test", "bob@localhost", []byte("From: sender@outside.test\r\nTo: bob@localhost\r\nSubject: pq at rest\r\n\r\n"+marker+"\r\n"))
	stored := env.Mailbox("bob@localhost", "INBOX")[0].Body
	// The key announces SEIPD version 2 (AES-256-OCB), so the copy uses it.
	if algos, v := sessionInfo(t, stored); len(algos) != 1 || algos[0] != packet.PubKeyAlgoMlkem768X25519 || v != 2 {
		t.Fatalf("stored copy encrypted with %v, SEIPD version %d; want ML-KEM-768+X25519 only, version 2", algos, v)
	}
	grepDataDir(t, env.Dir, []byte(marker))

	// go-crypto decrypts it with the exported secret key.
	sec, err := admin.ExportPGP(ctx, "bob@localhost", true)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := pgpmime.ReadKeys(bytes.NewReader(sec))
	if err != nil {
		t.Fatal(err)
	}
	var dec bytes.Buffer
	content := stored[bytes.Index(stored, []byte("From: sender@outside.test")):]
	if _, err := pgpmime.Decrypt(&dec, bytes.NewReader(content), ring, pgpmime.DecryptOptions{}); err != nil || !bytes.Contains(dec.Bytes(), []byte(marker)) {
		t.Fatalf("go-crypto: %v\n%s", err, dec.Bytes())
	}

	// The gateway decrypts it when it comes in again.
	setPolicy(t, env, "bob@localhost", "inbound.encrypt", "none", "inbound.decrypt", "true")
	mustMX(t, env, "sender@outside.test", "bob@localhost", content)
	back := env.Mailbox("bob@localhost", "INBOX")[1].Body
	if h := fieldValue(back, "Sealgate-Security"); !strings.HasPrefix(h, "received=pgp; decrypted=yes") || !bytes.Contains(back, []byte(marker)) {
		t.Fatalf("gateway did not decrypt its PQ copy: %q\n%s", h, back)
	}

	// Peers without RFC 9980 import the key and encrypt to its classical subkey.
	pub, err := admin.ExportPGP(ctx, "bob@localhost", false)
	if err != nil {
		t.Fatal(err)
	}
	inner := "Content-Type: text/plain\r\n\r\nClassical subkey still works.\r\n"
	wrap := func(armored []byte) []byte {
		return []byte("From: sender@outside.test\r\nTo: bob@localhost\r\nSubject: classical\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"c\"\r\n\r\n" +
			"--c\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--c\r\nContent-Type: application/octet-stream\r\n\r\n" +
			strings.ReplaceAll(strings.ReplaceAll(string(armored), "\r\n", "\n"), "\n", "\r\n") + "\r\n--c--\r\n")
	}
	msgs := [][]byte{wrap(gpgKnowing(t, pub).encryptTo("bob@localhost", []byte(inner)))}
	dir := t.TempDir()
	keyFile, in := filepath.Join(dir, "bob.asc"), filepath.Join(dir, "in.txt")
	os.WriteFile(keyFile, pub, 0o600)
	os.WriteFile(in, []byte(inner), 0o600)
	if _, err := exec.LookPath("sq"); err == nil {
		out, err := exec.Command("sq", "encrypt", "--recipient-cert", keyFile, in).CombinedOutput()
		if err != nil {
			t.Fatalf("sq: %v\n%s", err, out)
		}
		msgs = append(msgs, wrap(pgpBlock(t, out)))
	} else {
		peertest.Require(t, "sq")
	}
	if _, err := exec.LookPath("rnp"); err == nil {
		out, err := exec.Command("rnp", "--homedir", dir, "--keyfile", keyFile, "-e", "-r", "bob@localhost", "--armor", "--output", "-", in).CombinedOutput()
		switch {
		case err == nil:
			msgs = append(msgs, wrap(pgpBlock(t, out)))
		case bytes.Contains(out, []byte("unknown key algorithm: 35")):
			// RNP 0.16 refuses the whole key instead of skipping the subkey it does not know
			// (the README says so).
			t.Logf("rnp cannot load a key with an RFC 9980 subkey: %s", bytes.TrimSpace(out))
		default:
			t.Fatalf("rnp: %v\n%s", err, out)
		}
	} else {
		peertest.Require(t, "rnp")
	}
	for _, m := range msgs {
		if algos := pkeskAlgorithms(t, m); len(algos) != 1 || algos[0] != packet.PubKeyAlgoECDH {
			t.Errorf("a peer without RFC 9980 encrypted with %v", algos)
		}
		mustMX(t, env, "sender@outside.test", "bob@localhost", m)
	}
	got := env.Mailbox("bob@localhost", "INBOX")
	for i, m := range got[2:] {
		if h := fieldValue(m.Body, "Sealgate-Security"); !strings.HasPrefix(h, "received=pgp; decrypted=yes") || !bytes.Contains(m.Body, []byte("Classical subkey still works.")) {
			t.Errorf("peer message %d: %q", i, h)
		}
	}
}

// A version 6 key that is post-quantum throughout: at rest and back.
func TestE2EPostQuantumV6AtRest(t *testing.T) {
	env, admin := securityEnv(t)
	generatePGP(t, admin, "alice@localhost", keys.PGPOptions{PQ: true, V6: true})
	setPolicy(t, env, "alice@localhost", "inbound.encrypt", "pgp", "inbound.decrypt", "false")
	const marker = "PQ6-Plaintext-Not-On-Disk-0b7c"
	msg := "From: sender@outside.test\r\nTo: alice@localhost\r\nSubject: pq6\r\n\r\n" + marker + "\r\n"
	mustMX(t, env, "sender@outside.test", "alice@localhost", []byte(msg))
	stored := env.Mailbox("alice@localhost", "INBOX")[0].Body
	if algos, v := sessionInfo(t, stored); len(algos) != 1 || algos[0] != packet.PubKeyAlgoMlkem768X25519 || v != 2 {
		t.Fatalf("stored copy encrypted with %v, SEIPD version %d", algos, v)
	}
	grepDataDir(t, env.Dir, []byte(marker))
	setPolicy(t, env, "alice@localhost", "inbound.encrypt", "none", "inbound.decrypt", "true")
	mustMX(t, env, "sender@outside.test", "alice@localhost", stored[bytes.Index(stored, []byte("From: sender@outside.test")):])
	back := env.Mailbox("alice@localhost", "INBOX")[1].Body
	if h := fieldValue(back, "Sealgate-Security"); !strings.HasPrefix(h, "received=pgp; decrypted=yes") || !bytes.Contains(back, []byte(marker)) {
		t.Fatalf("not decrypted: %q", h)
	}
}

// Outbound mail to a recipient whose key has a PQ subkey is encrypted to that subkey.
func TestE2EPostQuantumOutbound(t *testing.T) {
	peer, env, admin := partnerEnv(t)
	ctx := context.Background()
	// dave's key, made elsewhere: only its public part is kept here.
	_, otherAdmin := securityEnv(t)
	generatePGP(t, otherAdmin, "dave@partner.test", keys.PGPOptions{PQ: true})
	pub, _ := otherAdmin.ExportPGP(ctx, "dave@partner.test", false)
	sec, _ := otherAdmin.ExportPGP(ctx, "dave@partner.test", true)
	if _, err := admin.Import(ctx, pub, keys.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	setPolicy(t, env, "alice@localhost", "outbound.encrypt", "required")
	const marker = "PQ-outbound-body"
	env.Submit("alice@localhost", "alice-pw-123", []string{"dave@partner.test"}, "From: alice@localhost\r\nTo: dave@partner.test\r\nSubject: pq out\r\n\r\n"+marker+"\r\n")
	peer.WaitReceived(t, 1)
	delivered := peer.Received()[0].Body
	if algos, v := sessionInfo(t, delivered); len(algos) != 1 || algos[0] != packet.PubKeyAlgoMlkem768X25519 || v != 2 {
		t.Fatalf("delivered copy encrypted with %v, SEIPD version %d", algos, v)
	}
	ring, err := pgpmime.ReadKeys(bytes.NewReader(sec))
	if err != nil {
		t.Fatal(err)
	}
	var dec bytes.Buffer
	if _, err := pgpmime.Decrypt(&dec, bytes.NewReader(delivered), ring, pgpmime.DecryptOptions{}); err != nil || !bytes.Contains(dec.Bytes(), []byte(marker)) {
		t.Fatalf("dave cannot read it: %v", err)
	}
}
