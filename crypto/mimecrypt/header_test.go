package mimecrypt

import "testing"

// headerOnly maps a top-level Content-Type to the kind DetectBytes gives a header section
// without its body: what the pipeline sees of a message too large to hold in memory.
var headerOnly = map[string]Kind{
	`multipart/encrypted; protocol="application/pgp-encrypted"; boundary=b`:  PGPEncrypted,
	`multipart/signed; protocol="application/pgp-signature"; boundary=b`:     PGPSigned,
	`multipart/signed; protocol="application/x-pkcs7-signature"; boundary=b`: SMIMESignedDetached,
	`application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m`:      SMIMEEnveloped,
	`application/pkcs7-mime; smime-type=signed-data; name=smime.p7m`:         SMIMESignedOpaque,
	`application/x-pkcs7-mime; name=smime.p7m`:                               SMIMEEnveloped,
	`application/octet-stream; name="smime.p7m"`:                             SMIMEEnveloped,
	`multipart/mixed; boundary=b`:                                            Plain,
	`text/plain; charset=utf-8`:                                              Plain,
}

func TestDetectHeaderSection(t *testing.T) {
	for ct, want := range headerOnly {
		head := "From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n"
		if got := DetectBytes([]byte(head)).Kind; got != want {
			t.Errorf("%s: %v, want %v", ct, got, want)
		}
	}
}
