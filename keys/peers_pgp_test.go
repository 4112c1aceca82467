package keys_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/keys"
)

// pgpPeer is an OpenPGP implementation other than gpg, driven from its command line.
type pgpPeer struct {
	name string
	// generate makes a key for addr and returns its secret key (transferable, no passphrase).
	generate func(t *testing.T, addr string) []byte
	// importCert takes a public key the keyring exported.
	importCert func(t *testing.T, pub []byte)
	encrypt    func(t *testing.T, addr string, plain []byte) []byte
	decrypt    func(t *testing.T, ct []byte) ([]byte, error)
	// signDetached signs data with the peer's own key; verifyDetached checks a signature made
	// by the keyring's key for addr.
	signDetached   func(t *testing.T, data []byte) []byte
	verifyDetached func(t *testing.T, data, sig []byte) error
}

func sequoia(t *testing.T) *pgpPeer {
	peertest.Require(t, "sq")
	dir := t.TempDir()
	own, certs := filepath.Join(dir, "own.key"), filepath.Join(dir, "certs.pgp")
	file := func(name string, b []byte) string { return writeFile(t, dir, name, b) }
	return &pgpPeer{
		name: "sq",
		generate: func(t *testing.T, addr string) []byte {
			peertest.MustRun(t, nil, "sq", "key", "generate", "--userid", "<"+addr+">", "--export", own)
			return mustReadFile(t, own)
		},
		importCert: func(t *testing.T, pub []byte) { os.WriteFile(certs, pub, 0o600) },
		encrypt: func(t *testing.T, _ string, plain []byte) []byte {
			return peertest.MustRun(t, plain, "sq", "encrypt", "--recipient-cert", certs)
		},
		decrypt: func(t *testing.T, ct []byte) ([]byte, error) {
			out, errOut, err := peertest.Run(t, nil, ct, "sq", "decrypt", "--recipient-key", own)
			if err != nil {
				return nil, errorf("sq decrypt: %v: %s", err, errOut)
			}
			return out, nil
		},
		signDetached: func(t *testing.T, data []byte) []byte {
			return peertest.MustRun(t, data, "sq", "sign", "--detached", "--signer-key", own)
		},
		verifyDetached: func(t *testing.T, data, sig []byte) error {
			if _, errOut, err := peertest.Run(t, nil, nil, "sq", "verify", "--signer-cert", certs, "--detached", file("sig", sig), file("data", data)); err != nil {
				return errorf("sq verify: %v: %s", err, errOut)
			}
			return nil
		},
	}
}

func rnpPeer(t *testing.T) *pgpPeer {
	peertest.Require(t, "rnp")
	home, err := os.MkdirTemp("", "sgrnp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	dir := t.TempDir()
	file := func(name string, b []byte) string { return writeFile(t, dir, name, b) }
	var ownAddr string
	return &pgpPeer{
		name: "rnp",
		generate: func(t *testing.T, addr string) []byte {
			ownAddr = addr
			peertest.MustRun(t, nil, "rnpkeys", "--homedir", home, "--generate-key", "--userid", "RNP <"+addr+">", "--password", "")
			return peertest.MustRun(t, nil, "rnpkeys", "--homedir", home, "--export-key", "--secret", addr)
		},
		importCert: func(t *testing.T, pub []byte) {
			peertest.MustRun(t, nil, "rnpkeys", "--homedir", home, "--import", file("pub.asc", pub))
		},
		encrypt: func(t *testing.T, addr string, plain []byte) []byte {
			return peertest.MustRun(t, plain, "rnp", "--homedir", home, "--encrypt", "--armor", "-r", addr, "--output", "-")
		},
		decrypt: func(t *testing.T, ct []byte) ([]byte, error) {
			out, errOut, err := peertest.Run(t, nil, ct, "rnp", "--homedir", home, "--decrypt", "--password", "", "--output", "-")
			if err != nil {
				return nil, errorf("rnp --decrypt: %v: %s", err, errOut)
			}
			return out, nil
		},
		signDetached: func(t *testing.T, data []byte) []byte {
			return peertest.MustRun(t, nil, "rnp", "--homedir", home, "--sign", "--detach", "--armor", "--password", "", "-u", ownAddr, "--output", "-", file("data", data))
		},
		verifyDetached: func(t *testing.T, data, sig []byte) error {
			d := file("signed", data)
			s := file("signed.asc", sig)
			if _, errOut, err := peertest.Run(t, nil, nil, "rnp", "--homedir", home, "--verify", s, "--source", d); err != nil {
				return errorf("rnp --verify: %v: %s", err, errOut)
			}
			return nil
		},
	}
}

// Keys both ways with Sequoia and RNP: their secret keys import (the keyring decrypts what
// they encrypt to them and their detached signatures verify), and a key generated here is
// exported to them (they encrypt to it, the keyring decrypts; the keyring signs, they verify).
func TestOpenPGPPeersKeysBothWays(t *testing.T) {
	ctx := context.Background()
	for _, mk := range []func(*testing.T) *pgpPeer{sequoia, rnpPeer} {
		p := mk(t)
		t.Run(p.name, func(t *testing.T) {
			peerAddr, ourAddr := p.name+"@peer.test", "gw@keys.test"
			peerKey := p.generate(t, peerAddr)
			tk := newKeyring(t) // its clock starts after the peer made its key
			es := tk.mustImport(t, peerKey, keys.ImportOptions{})
			if len(es) != 1 || !es[0].Secret || es[0].Addresses[0] != peerAddr {
				t.Fatalf("peer's secret key: %+v", es)
			}
			if _, err := tk.adm.GeneratePGP(ctx, ourAddr, keys.PGPOptions{}); err != nil {
				t.Fatal(err)
			}
			ourPub, err := tk.adm.ExportPGP(ctx, ourAddr, false)
			if err != nil {
				t.Fatal(err)
			}
			p.importCert(t, ourPub)

			// Peer encrypts to the key generated here; the keyring decrypts.
			ct := p.encrypt(t, ourAddr, []byte("to the gateway\n"))
			if got := tk.decryptPGP(t, ourAddr, ct); got != "to the gateway\n" {
				t.Fatalf("keyring decrypted %q", got)
			}
			// The keyring encrypts to the peer's imported key; the peer decrypts.
			ring, err := tk.EncryptionKeysPGP(ctx, peerAddr)
			if err != nil || len(ring) != 1 {
				t.Fatalf("encryption keys of %s: %v", peerAddr, err)
			}
			var enc bytes.Buffer
			msg := "From: " + ourAddr + "\r\nTo: " + peerAddr + "\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nto the peer\r\n"
			if err := pgpmime.Encrypt(&enc, strings.NewReader(msg), pgpmime.EncryptOptions{Recipients: ring}); err != nil {
				t.Fatal(err)
			}
			s := enc.String()
			block := s[strings.Index(s, "-----BEGIN PGP MESSAGE-----"):]
			block = block[:strings.Index(block, "-----END PGP MESSAGE-----")+len("-----END PGP MESSAGE-----")] + "\n"
			plain, err := p.decrypt(t, []byte(block))
			if err != nil || !bytes.Contains(plain, []byte("to the peer")) {
				t.Fatalf("peer decrypt: %v %q", err, plain)
			}
			// The peer's detached signature verifies with its imported key, and fails on
			// changed data.
			data := []byte("Content-Type: text/plain\r\n\r\nsigned by the peer\r\n")
			sig := p.signDetached(t, data)
			vk, err := tk.VerificationKeysPGP(ctx, peerAddr)
			if err != nil {
				t.Fatal(err)
			}
			signedMsg := func(content []byte) string {
				return "From: " + peerAddr + "\r\nSubject: s\r\nMIME-Version: 1.0\r\n" +
					"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"b\"\r\n\r\n" +
					"--b\r\n" + string(content) + "\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n" +
					strings.ReplaceAll(string(sig), "\n", "\r\n") + "\r\n--b--\r\n"
			}
			r, err := pgpmime.Verify(strings.NewReader(signedMsg(data)), vk, pgpmime.VerifyOptions{MaxDateSkew: -1})
			if err != nil || r.Status != pgpmime.StatusGood || r.Signer != peerAddr {
				t.Fatalf("Verify: %v %v %s", err, r.Status, r.Reason)
			}
			changed := bytes.Replace(data, []byte("peer"), []byte("Peer"), 1)
			if r, _ := pgpmime.Verify(strings.NewReader(signedMsg(changed)), vk, pgpmime.VerifyOptions{MaxDateSkew: -1}); r.Status != pgpmime.StatusBad {
				t.Fatalf("changed content: %v", r.Status)
			}
			if r, _ := pgpmime.Verify(strings.NewReader(signedMsg(data)), nil, pgpmime.VerifyOptions{MaxDateSkew: -1}); r.Status != pgpmime.StatusUnknownSigner {
				t.Fatalf("without the key: %v", r.Status)
			}
			// The keyring's key signs (PGP/MIME); the peer verifies the signed part.
			sk, err := tk.SigningKeyPGP(ctx, ourAddr)
			if err != nil {
				t.Fatal(err)
			}
			var signed bytes.Buffer
			if err := pgpmime.Sign(&signed, strings.NewReader(strings.Replace(msg, "To: "+peerAddr, "To: x@peer.test", 1)), pgpmime.SignOptions{Signer: sk}); err != nil {
				t.Fatal(err)
			}
			part, ourSig := splitSigned(t, signed.Bytes())
			if err := p.verifyDetached(t, part, ourSig); err != nil {
				t.Fatal(err)
			}
			if err := p.verifyDetached(t, bytes.Replace(part, []byte("to the peer"), []byte("to the Peer"), 1), ourSig); err == nil {
				t.Fatalf("%s accepts changed content", p.name)
			}
		})
	}
}

// splitSigned returns the signed part (as hashed: without the CRLF before the boundary) and
// the armored signature of a PGP/MIME multipart/signed message.
func splitSigned(t *testing.T, msg []byte) (part, sig []byte) {
	t.Helper()
	s := string(msg)
	i := strings.Index(s, "boundary=\"")
	b := s[i+len("boundary=\""):]
	b = "--" + b[:strings.IndexByte(b, '"')]
	chunks := strings.Split(s, b)
	if len(chunks) < 4 {
		t.Fatalf("not multipart/signed: %.200q", s)
	}
	part = []byte(strings.TrimSuffix(strings.TrimPrefix(chunks[1], "\r\n"), "\r\n"))
	sigPart := chunks[2]
	sig = []byte(sigPart[strings.Index(sigPart, "-----BEGIN PGP SIGNATURE-----"):])
	return part, bytes.ReplaceAll(sig, []byte("\r\n"), []byte("\n"))
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
