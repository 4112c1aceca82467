package smime

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// cmsOf returns the DER of a message produced by Encrypt or Sign.
func cmsOf(t testing.TB, msg []byte) []byte {
	e := mimeutil.ParseEntity(msg)
	if e.MediaType == "multipart/signed" {
		parts, _ := e.Parts()
		e = parts[1]
	}
	der, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(e.Body)))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// FuzzCMS feeds arbitrary DER/BER to the CMS code: BER normalisation,
// EnvelopedData/AuthEnvelopedData decryption and SignedData verification
// must never panic.
func FuzzCMS(f *testing.F) {
	ca, _, rsaP, ecP := fixtures(f)
	for _, c := range []Cipher{AES256CBC, AES128GCM} {
		for _, p := range []party{rsaP, ecP} {
			var out bytes.Buffer
			if err := Encrypt(&out, strings.NewReader(sampleMessage), EncryptOptions{Recipients: []*x509Cert{p.cert}, Cipher: c}); err != nil {
				f.Fatal(err)
			}
			f.Add(cmsOf(f, out.Bytes()))
		}
	}
	for _, opaque := range []bool{false, true} {
		var out bytes.Buffer
		if err := Sign(&out, strings.NewReader(sampleMessage), SignOptions{Cert: rsaP.cert, Key: rsaP.key, Opaque: opaque}); err != nil {
			f.Fatal(err)
		}
		f.Add(cmsOf(f, out.Bytes()))
	}
	// RSASSA-PSS: parameters and the PSS-restricted certificate's key.
	pss := pssParty(f)
	var out bytes.Buffer
	if err := Sign(&out, strings.NewReader(sampleMessage), SignOptions{Cert: pss.cert, Key: pss.key}); err != nil {
		f.Fatal(err)
	}
	f.Add(cmsOf(f, out.Bytes()))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	// Signer certificates from the keyring (signatures without certificates) and a trusted
	// signer are fuzzed too.
	opts := VerifyOptions{Roots: pool(ca), Certificates: []*x509Cert{rsaP.cert, ecP.cert, pss.cert}, TrustedSigners: []*x509Cert{ecP.cert}}
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := berToDER(b)
		if err != nil {
			return
		}
		decryptEnveloped(der, rsaP.cert, rsaP.key)
		decryptEnveloped(der, ecP.cert, ecP.key)
		if r := verifyCMS(der, []byte(sampleInner), opts); r.Valid && !r.CryptoValid {
			t.Fatalf("valid without a verified signature")
		}
	})
}

// FuzzDecryptMessage runs whole messages through Decrypt and Verify.
func FuzzDecryptMessage(f *testing.F) {
	ca, _, rsaP, _ := fixtures(f)
	var out bytes.Buffer
	Encrypt(&out, strings.NewReader(sampleMessage), EncryptOptions{Recipients: []*x509Cert{rsaP.cert}})
	f.Add(out.Bytes())
	out.Reset()
	Sign(&out, strings.NewReader(sampleMessage), SignOptions{Cert: rsaP.cert, Key: rsaP.key})
	f.Add(out.Bytes())
	f.Fuzz(func(t *testing.T, msg []byte) {
		Decrypt(io.Discard, bytes.NewReader(msg), rsaP.cert, rsaP.key, DecryptOptions{})
		Verify(io.Discard, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca)})
	})
}

type x509Cert = x509.Certificate
