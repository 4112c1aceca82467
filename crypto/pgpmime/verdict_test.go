package pgpmime

import (
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// A signature made with a public-key algorithm go-crypto does not implement cannot be
// checked: it is unsupported, not a forgery.
func TestUnsupportedSignatureAlgorithmIsNotFail(t *testing.T) {
	// v4 signature packet, binary document, public-key algorithm 99, SHA-256, no subpackets.
	sig := []byte{0xc2, 0x0c, 4, 0x00, 99, 8, 0, 0, 0, 0, 0xab, 0xcd, 0, 0}
	var b strings.Builder
	w, _ := armor.Encode(&b, "PGP SIGNATURE", nil)
	w.Write(sig)
	w.Close()
	msg := "From: a@example.test\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n" +
		strings.ReplaceAll(b.String(), "\n", "\r\n") + "\r\n--b--\r\n"
	r, err := Verify(strings.NewReader(msg), nil, VerifyOptions{})
	if err != nil || r.Status != StatusUnsupported || r.Status.Checked() {
		t.Fatalf("%v %v %s", err, r.Status, r.Reason)
	}
}
