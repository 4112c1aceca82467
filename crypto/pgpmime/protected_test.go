package pgpmime

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// Signed with protection, then encrypted with protection: the protected header is in the
// signed part only (not copied again onto the multipart/signed), the outer Subject is "...",
// and Decrypt lifts the Subject from under the signature, which still verifies.
func TestSignThenEncryptProtected(t *testing.T) {
	e, err := openpgp.NewEntity("Ed", "", "ed@sealgate.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	k := NewKey(e)
	msg := "From: Test Ed <ed@sealgate.test>\r\nTo: rsa@sealgate.test\r\nSubject: under the signature\r\n\r\nBody.\r\n"
	var signed, enc, dec bytes.Buffer
	if err := Sign(&signed, strings.NewReader(msg), SignOptions{Signer: k, ProtectedHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := Encrypt(&enc, bytes.NewReader(signed.Bytes()), EncryptOptions{Recipients: KeyRing{k}, ProtectedHeaders: true}); err != nil {
		t.Fatal(err)
	}
	top := mimeutil.ParseEntity(enc.Bytes())
	if top.Header.Get("Subject") != "..." || bytes.Contains(enc.Bytes(), []byte("under the signature")) {
		t.Fatalf("outer header:\n%s", top.RawHeader)
	}
	plain, err := decryptWith(t, enc.Bytes(), KeyRing{k})
	if err != nil {
		t.Fatal(err)
	}
	inner := mimeutil.ParseEntity(plain)
	if inner.MediaType != "multipart/signed" || inner.Header.Get("Subject") != "" || inner.Params["hp"] != "" {
		t.Fatalf("the multipart/signed carries protection of its own:\n%s", inner.RawHeader)
	}
	parts, err := inner.Parts()
	if err != nil || parts[0].Params["hp"] != "cipher" || parts[0].Header.Get("Subject") != "under the signature" {
		t.Fatalf("signed part: %v\n%s", err, parts[0].RawHeader)
	}
	res, err := Decrypt(&dec, bytes.NewReader(enc.Bytes()), KeyRing{k}, DecryptOptions{})
	if err != nil || res.ProtectedSubject != "under the signature" {
		t.Fatalf("Decrypt: %v, subject %q", err, res.ProtectedSubject)
	}
	if h := mimeutil.ParseEntity(dec.Bytes()).Header; len(h.Values("Subject")) != 1 || h.Get("Subject") != "under the signature" {
		t.Fatalf("decrypted header:\n%s", mimeutil.ParseEntity(dec.Bytes()).RawHeader)
	}
	vr, err := Verify(bytes.NewReader(dec.Bytes()), KeyRing{k}, VerifyOptions{})
	if err != nil || !vr.CryptoValid {
		t.Fatalf("the signature does not verify after decryption: %v %+v", err, vr)
	}
}
