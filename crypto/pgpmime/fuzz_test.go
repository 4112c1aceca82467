package pgpmime

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzDecrypt feeds arbitrary messages to Decrypt: it must return a
// result or an error, never panic or hang. The seeds are a real PGP/MIME
// message, its inline form and broken variants.
func FuzzDecrypt(f *testing.F) {
	keys := loadKeys(f, fixture(f, "ed25519-secret.asc"))
	var ct bytes.Buffer
	if err := Encrypt(&ct, strings.NewReader(sampleMessage), EncryptOptions{Recipients: keys, Signer: keys[0]}); err != nil {
		f.Fatal(err)
	}
	f.Add(ct.Bytes())
	f.Add(bytes.Replace(ct.Bytes(), []byte("multipart/encrypted"), []byte("text/plain"), 1))
	f.Add(ct.Bytes()[:len(ct.Bytes())/2])
	f.Add([]byte("Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		Decrypt(io.Discard, bytes.NewReader(msg), keys, DecryptOptions{})
	})
}

// FuzzVerify feeds arbitrary messages to Verify.
func FuzzVerify(f *testing.F) {
	keys := loadKeys(f, fixture(f, "ed25519-secret.asc"))
	var signed bytes.Buffer
	if err := Sign(&signed, strings.NewReader(sampleMessage), SignOptions{Signer: keys[0]}); err != nil {
		f.Fatal(err)
	}
	f.Add(signed.Bytes())
	f.Add([]byte("Content-Type: text/plain\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\n=AAAA\r\n-----END PGP SIGNATURE-----\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := Verify(bytes.NewReader(msg), keys, VerifyOptions{})
		if err == nil && r.Valid && !r.CryptoValid {
			t.Fatalf("valid without a verified signature: %+v", r)
		}
	})
}
