package pgpmime

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

// Post-quantum recipients (RFC 9980, ML-KEM-768+X25519, algorithm 35): no OpenPGP tool in
// Debian 12 implements RFC 9980 (GnuPG 2.2.40, Sequoia sq 0.27 / sequoia-openpgp 1.12, RNP
// 0.16 with Botan 2), so these are round trips through go-crypto and Decrypt.

// pqKey makes a version 4 Ed25519 key with a classical and a post-quantum encryption subkey
// (what keys.GeneratePGP makes with PQ), announcing SEIPD version 2 or not.
func pqKey(t testing.TB, seipdV2 bool) *Key {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultCipher: packet.CipherAES128}
	if seipdV2 {
		cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	}
	e, err := openpgp.NewEntity("PQ", "", "pq@sealgate.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := *cfg
	sub.Algorithm = packet.PubKeyAlgoMlkem768X25519
	if err := e.AddEncryptionSubkey(&sub); err != nil {
		t.Fatal(err)
	}
	return NewKey(e)
}

// sessionPackets reads the PKESK packets and the encrypted data packet of an Encrypt output.
func sessionPackets(t *testing.T, out []byte) ([]*packet.EncryptedKey, *packet.SymmetricallyEncrypted) {
	t.Helper()
	blk, err := armor.Decode(bytes.NewReader(encryptedPart(t, out)))
	if err != nil {
		t.Fatal(err)
	}
	var eks []*packet.EncryptedKey
	r := packet.NewReader(blk.Body)
	for {
		p, err := r.Next()
		if err == io.EOF {
			t.Fatal("no encrypted data packet")
		}
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			eks = append(eks, p)
		case *packet.SymmetricallyEncrypted:
			return eks, p
		}
	}
}

// pqSubkey is the post-quantum encryption subkey of k.
func pqSubkey(t *testing.T, k *Key) *packet.PrivateKey {
	t.Helper()
	for _, s := range k.entity.Subkeys {
		if s.PublicKey.PubKeyAlgo == packet.PubKeyAlgoMlkem768X25519 {
			return s.PrivateKey
		}
	}
	t.Fatal("no ML-KEM-768+X25519 subkey")
	return nil
}

func TestEncryptPostQuantum(t *testing.T) {
	msg := messageWithBody(3000)
	for _, tc := range []struct {
		name        string
		seipdV2     bool
		sign        bool
		pkesk, data int // packet versions expected
	}{
		// The own SEIPDv1 writer: a v3 PKESK to the PQ subkey, with AES-256 (RFC 9980: a
		// PQ recipient supports it even if its preferences say AES-128 only).
		{"v1", false, false, 3, 1},
		// go-crypto writes signed messages (with the cipher the preferences name).
		{"v1-signed", false, true, 3, 1},
		// The key announces SEIPD version 2: go-crypto, v6 PKESK and AEAD.
		{"v2", true, false, 6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := pqKey(t, tc.seipdV2)
			opts := EncryptOptions{Recipients: KeyRing{k}, ProtectedHeaders: true}
			if tc.sign {
				opts.Signer = k
			}
			var out bytes.Buffer
			if err := Encrypt(&out, strings.NewReader(msg), opts); err != nil {
				t.Fatal(err)
			}
			eks, data := sessionPackets(t, out.Bytes())
			if len(eks) != 1 || eks[0].Algo != packet.PubKeyAlgoMlkem768X25519 || eks[0].Version != tc.pkesk {
				t.Fatalf("PKESK: %d packets, first %+v", len(eks), eks[0])
			}
			if data.Version != tc.data || !data.IntegrityProtected {
				t.Fatalf("encrypted data packet version %d", data.Version)
			}
			if tc.pkesk == 3 && !tc.sign {
				if err := eks[0].Decrypt(pqSubkey(t, k), nil); err != nil {
					t.Fatal(err)
				}
				if eks[0].CipherFunc != packet.CipherAES256 {
					t.Errorf("cipher %v, want AES-256", eks[0].CipherFunc)
				}
			}
			var dec bytes.Buffer
			res, err := Decrypt(&dec, bytes.NewReader(out.Bytes()), KeyRing{k}, DecryptOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.DecryptionKeyID != pqSubkey(t, k).PublicKey.KeyIdString() && res.DecryptionKeyID != strings.ToUpper(pqSubkey(t, k).PublicKey.KeyIdString()) {
				t.Errorf("decrypted with %s, not the PQ subkey", res.DecryptionKeyID)
			}
			if res.ProtectedSubject != "sizes" || !strings.HasSuffix(dec.String(), msg[strings.Index(msg, "\r\n\r\n"):]) {
				t.Errorf("round trip: subject %q", res.ProtectedSubject)
			}
			if tc.sign && !res.Signature.CryptoValid {
				t.Errorf("signature %+v", res.Signature)
			}
		})
	}
}

// A version 6 key that is post-quantum throughout (ML-DSA-65+Ed25519 with ML-KEM-768+X25519).
func TestEncryptPostQuantumV6(t *testing.T) {
	e, err := openpgp.NewEntity("PQ6", "", "pq6@sealgate.test", &packet.Config{Algorithm: packet.PubKeyAlgoMldsa65Ed25519, V6Keys: true,
		DefaultCipher: packet.CipherAES256, AEADConfig: &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}})
	if err != nil {
		t.Fatal(err)
	}
	k := NewKey(e)
	msg := messageWithBody(500)
	var out bytes.Buffer
	if err := Encrypt(&out, strings.NewReader(msg), EncryptOptions{Recipients: KeyRing{k}, Signer: k}); err != nil {
		t.Fatal(err)
	}
	eks, data := sessionPackets(t, out.Bytes())
	if eks[0].Algo != packet.PubKeyAlgoMlkem768X25519 || data.Version != 2 {
		t.Fatalf("PKESK algorithm %v, data version %d", eks[0].Algo, data.Version)
	}
	var dec bytes.Buffer
	res, err := Decrypt(&dec, bytes.NewReader(out.Bytes()), KeyRing{k}, DecryptOptions{})
	if err != nil || !res.Signature.CryptoValid || !bytes.Contains(dec.Bytes(), []byte("0123456789abcdef")) {
		t.Fatalf("round trip: %v %+v", err, res.Signature)
	}
}

// BenchmarkPostQuantum10KiB: encrypting to and decrypting with an ML-KEM-768+X25519 subkey,
// with the own SEIPD v1 writer and with go-crypto's SEIPD v2 (compare BenchmarkEncrypt10KiB).
func BenchmarkPostQuantum10KiB(b *testing.B) {
	msg := messageWithBody(10 << 10)
	for _, v2 := range []bool{false, true} {
		name := map[bool]string{false: "SEIPDv1", true: "SEIPDv2"}[v2]
		k := pqKey(b, v2)
		var ct bytes.Buffer
		if err := Encrypt(&ct, strings.NewReader(msg), EncryptOptions{Recipients: KeyRing{k}}); err != nil {
			b.Fatal(err)
		}
		b.Run("Encrypt/"+name, func(b *testing.B) {
			cryptotest.Throughput(b, int64(len(msg)), func() error {
				return Encrypt(io.Discard, strings.NewReader(msg), EncryptOptions{Recipients: KeyRing{k}})
			})
		})
		b.Run("Decrypt/"+name, func(b *testing.B) {
			cryptotest.Throughput(b, int64(len(msg)), func() error {
				_, err := Decrypt(io.Discard, bytes.NewReader(ct.Bytes()), KeyRing{k}, DecryptOptions{})
				return err
			})
		})
	}
}
