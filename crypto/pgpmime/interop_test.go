package pgpmime

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

const sampleMessage = "From: Test Ed <ed@sealgate.test>\r\n" +
	"To: Test RSA <rsa@sealgate.test>\r\n" +
	"Subject: Secret plans\r\n" +
	"Date: Thu, 26 Nov 2026 07:00:00 +0000\r\n" +
	"Message-ID: <1@sealgate.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"Hello there, \xc3\xbcmlaut.\r\n" +
	"From the line starting with From\r\n" +
	"-- \r\n" +
	"trailing space line \r\n"

func fixture(t testing.TB, name string) string {
	return filepath.Join(cryptotest.Testdata(t), "pgp", name)
}

func loadKeys(t testing.TB, paths ...string) KeyRing {
	t.Helper()
	var kr KeyRing
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := ReadKeys(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		kr = append(kr, ks...)
	}
	return kr
}

// encryptedPart returns the armored payload of a PGP/MIME message.
func encryptedPart(t testing.TB, msg []byte) []byte {
	t.Helper()
	e := mimeutil.ParseEntity(msg)
	if e.MediaType != "multipart/encrypted" || e.Params["protocol"] != "application/pgp-encrypted" {
		t.Fatalf("not PGP/MIME encrypted: %s %v", e.MediaType, e.Params)
	}
	parts, err := e.Parts()
	if err != nil || len(parts) != 2 {
		t.Fatalf("parts: %v (%d)", err, len(parts))
	}
	if parts[0].MediaType != "application/pgp-encrypted" || !bytes.Contains(parts[0].Body, []byte("Version: 1")) {
		t.Fatalf("first part %s", parts[0].MediaType)
	}
	if parts[1].MediaType != "application/octet-stream" {
		t.Fatalf("second part %s", parts[1].MediaType)
	}
	return parts[1].Body
}

func TestEncryptReadByGPG(t *testing.T) {
	rsaSec, edSec := fixture(t, "rsa3072-secret.asc"), fixture(t, "ed25519-secret.asc")
	recips := loadKeys(t, fixture(t, "rsa3072-pub.asc"), fixture(t, "ed25519-pub.asc"))
	signer := loadKeys(t, edSec)[0]
	for _, protected := range []bool{false, true} {
		var out bytes.Buffer
		err := Encrypt(&out, strings.NewReader(sampleMessage), EncryptOptions{Recipients: recips, Signer: signer, ProtectedHeaders: protected})
		if err != nil {
			t.Fatal(err)
		}
		top := mimeutil.ParseEntity(out.Bytes())
		wantSubj := "Secret plans"
		if protected {
			wantSubj = "..."
		}
		if got := top.Header.Get("Subject"); got != wantSubj {
			t.Errorf("outer Subject %q, want %q", got, wantSubj)
		}
		if !bytes.Contains(top.RawHeader, []byte("Message-ID: <1@sealgate.test>\r\n")) {
			t.Errorf("outer header lost Message-ID: %s", top.RawHeader)
		}
		payload := encryptedPart(t, out.Bytes())
		for _, sec := range []string{rsaSec, edSec} {
			g := cryptotest.NewGPG(t)
			g.Import(sec, fixture(t, "ed25519-pub.asc"))
			plain, status, err := g.Run(payload, "--status-fd", "2", "--decrypt")
			if err != nil {
				t.Fatalf("gpg --decrypt (%s): %v\n%s", filepath.Base(sec), err, status)
			}
			st := string(status)
			if !strings.Contains(st, "[GNUPG:] DECRYPTION_OKAY") || !strings.Contains(st, "[GNUPG:] GOODSIG") {
				t.Errorf("gpg status lacks DECRYPTION_OKAY/GOODSIG:\n%s", st)
			}
			// SEIPDv1 with MDC (method 2) and AES-256 (9): GnuPG 2.2 format.
			if !strings.Contains(st, "[GNUPG:] DECRYPTION_INFO 2 9") {
				t.Errorf("not SEIPDv1/AES-256:\n%s", st)
			}
			inner := mimeutil.ParseEntity(plain)
			if inner.MediaType != "text/plain" || !bytes.HasSuffix(plain, []byte("trailing space line \r\n")) {
				t.Errorf("inner entity: %q", plain)
			}
			if protected != (inner.Params["protected-headers"] == "v1") || (protected && inner.Header.Get("Subject") != "Secret plans") {
				t.Errorf("protected headers wrong in %q", inner.RawHeader)
			}
		}
		// And we read it back ourselves.
		var dec bytes.Buffer
		res, err := Decrypt(&dec, bytes.NewReader(out.Bytes()), loadKeys(t, rsaSec), DecryptOptions{VerifyKeys: recips})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Signature.Valid || res.Signature.Signer != "ed@sealgate.test" {
			t.Errorf("signature result %+v", res.Signature)
		}
		if got := mimeutil.ParseEntity(dec.Bytes()).Header.Get("Subject"); got != "Secret plans" {
			t.Errorf("decrypted Subject %q", got)
		}
		if !bytes.Contains(dec.Bytes(), []byte("Hello there, \xc3\xbcmlaut.\r\n")) {
			t.Errorf("decrypted body: %q", dec.Bytes())
		}
	}
}

func TestSignVerifiedByGPG(t *testing.T) {
	for _, name := range []string{"ed25519", "rsa3072"} {
		t.Run(name, func(t *testing.T) {
			signer := loadKeys(t, fixture(t, name+"-secret.asc"))[0]
			var out bytes.Buffer
			if err := Sign(&out, strings.NewReader(sampleMessage), SignOptions{Signer: signer}); err != nil {
				t.Fatal(err)
			}
			top := mimeutil.ParseEntity(out.Bytes())
			if top.MediaType != "multipart/signed" || top.Params["micalg"] != "pgp-sha256" || top.Params["protocol"] != "application/pgp-signature" {
				t.Fatalf("header: %s", top.RawHeader)
			}
			parts, err := top.Parts()
			if err != nil || len(parts) != 2 {
				t.Fatal(err)
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "part"), parts[0].Raw, 0o600)
			os.WriteFile(filepath.Join(dir, "sig.asc"), parts[1].Body, 0o600)
			g := cryptotest.NewGPG(t)
			g.Import(fixture(t, name+"-pub.asc"))
			_, status, err := g.Run(nil, "--status-fd", "2", "--verify", filepath.Join(dir, "sig.asc"), filepath.Join(dir, "part"))
			if err != nil || !strings.Contains(string(status), "[GNUPG:] GOODSIG") {
				t.Fatalf("gpg --verify: %v\n%s", err, status)
			}
			pub := loadKeys(t, fixture(t, name+"-pub.asc"))
			res, err := Verify(bytes.NewReader(out.Bytes()), pub, VerifyOptions{MaxDateSkew: -1})
			// The sample's From is ed@sealgate.test: an RSA-key signature
			// is good cryptographically but does not match the sender.
			wantStatus := StatusGood
			if name == "rsa3072" {
				wantStatus = StatusMismatch
			}
			if err != nil || res.Status != wantStatus || !res.CryptoValid || res.Fingerprint != pub[0].Fingerprint() {
				t.Fatalf("Verify: %+v %v", res, err)
			}
			tampered := bytes.Replace(out.Bytes(), []byte("Hello there"), []byte("Hello where"), 1)
			res, err = Verify(bytes.NewReader(tampered), pub, VerifyOptions{MaxDateSkew: -1})
			if err != nil || res.Valid || res.Status != StatusBad {
				t.Fatalf("tampered Verify: %+v %v", res, err)
			}
			// LF-only transport must not break it (canonicalisation).
			lf := bytes.ReplaceAll(out.Bytes(), []byte("\r\n"), []byte("\n"))
			res, err = Verify(bytes.NewReader(lf), pub, VerifyOptions{MaxDateSkew: -1})
			if err != nil || !res.CryptoValid {
				t.Fatalf("LF Verify: %+v %v", res, err)
			}
		})
	}
}

// wrapPGPMIME builds a PGP/MIME message around an armored payload.
func wrapPGPMIME(payload []byte) []byte {
	return []byte("From: Test Ed <ed@sealgate.test>\r\nTo: rsa@sealgate.test\r\nSubject: from gpg\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b1\r\n" +
		"Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n" + string(payload) + "\r\n--b1--\r\n")
}

const innerEntity = "Content-Type: text/plain; charset=utf-8\r\n\r\nMade by GnuPG.\r\n"

func TestGPGEncryptWeDecrypt(t *testing.T) {
	keys := loadKeys(t, fixture(t, "rsa3072-secret.asc"), fixture(t, "ed25519-secret.asc"))
	g := cryptotest.NewGPG(t)
	g.Import(fixture(t, "rsa3072-secret.asc"), fixture(t, "ed25519-secret.asc"))
	for _, tc := range []struct {
		recip, cipher string
		sign          bool
	}{
		{"rsa@sealgate.test", "AES256", false},
		{"rsa@sealgate.test", "AES128", true},
		{"ed@sealgate.test", "AES256", true},
		{"ed@sealgate.test", "AES192", false},
		{"rsa@sealgate.test", "CAST5", false},
		{"ed@sealgate.test", "3DES", true},
	} {
		name := tc.recip[:strings.IndexByte(tc.recip, '@')] + "-" + tc.cipher
		if tc.sign {
			name += "-signed"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--armor", "--cipher-algo", tc.cipher, "--recipient", tc.recip}
			if tc.sign {
				args = append(args, "--sign", "--local-user", "ed@sealgate.test")
			}
			ct := g.MustRun([]byte(innerEntity), append(args, "--encrypt")...)
			for _, form := range []string{"pgpmime", "inline"} {
				msg := wrapPGPMIME(ct)
				if form == "inline" {
					msg = []byte("From: ed@sealgate.test\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\n" + string(ct))
				}
				var out bytes.Buffer
				res, err := Decrypt(&out, bytes.NewReader(msg), keys, DecryptOptions{})
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if !res.Encrypted || !bytes.Contains(out.Bytes(), []byte("Made by GnuPG.\r\n")) {
					t.Fatalf("%s: %+v\n%s", form, res, out.Bytes())
				}
				if tc.sign != res.Signature.Valid || (tc.sign && res.Signature.Signer != "ed@sealgate.test") {
					t.Errorf("%s: signature %+v", form, res.Signature)
				}
			}
			// Wrong key: a clean ErrNoKey.
			other := keys[1]
			if tc.recip == "ed@sealgate.test" {
				other = keys[0]
			}
			_, err := Decrypt(new(bytes.Buffer), bytes.NewReader(wrapPGPMIME(ct)), KeyRing{other}, DecryptOptions{})
			if err == nil || !strings.Contains(err.Error(), "pgpmime:") {
				t.Errorf("wrong key: %v", err)
			}
		})
	}
}

func TestGPGSignWeVerify(t *testing.T) {
	pub := loadKeys(t, fixture(t, "rsa3072-pub.asc"), fixture(t, "ed25519-pub.asc"))
	g := cryptotest.NewGPG(t)
	g.Import(fixture(t, "rsa3072-secret.asc"), fixture(t, "ed25519-secret.asc"))
	for _, signer := range []string{"rsa@sealgate.test", "ed@sealgate.test"} {
		for _, hash := range []string{"SHA256", "SHA512"} {
			sig := g.MustRun([]byte(innerEntity), "--armor", "--digest-algo", hash, "--local-user", signer, "--detach-sign")
			msg := "From: " + signer + "\r\nSubject: signed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-" + strings.ToLower(hash) +
				"; protocol=\"application/pgp-signature\"; boundary=\"b2\"\r\n\r\n--b2\r\n" + innerEntity + "\r\n--b2\r\n" +
				"Content-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--b2--\r\n"
			res, err := Verify(strings.NewReader(msg), pub, VerifyOptions{MaxDateSkew: -1})
			if err != nil || !res.Valid || res.Signer != signer || res.Hash != hash {
				t.Errorf("%s %s: %+v %v", signer, hash, res, err)
			}
			res, _ = Verify(strings.NewReader(strings.Replace(msg, "Made by", "Made bx", 1)), pub, VerifyOptions{MaxDateSkew: -1})
			if res.Valid || res.Status != StatusBad {
				t.Errorf("%s tampered: %+v", signer, res)
			}
			res, _ = Verify(strings.NewReader(msg), nil, VerifyOptions{MaxDateSkew: -1})
			if res.Valid || res.Status != StatusUnknownSigner || res.KeyID == "" {
				t.Errorf("%s unknown key: %+v", signer, res)
			}
		}
		clear := g.MustRun([]byte("Inline signed text.\n- dash line\n"), "--local-user", signer, "--clearsign")
		msg := "From: " + signer + "\r\nSubject: clear\r\nContent-Type: text/plain\r\n\r\n" + string(clear)
		res, err := Verify(strings.NewReader(msg), pub, VerifyOptions{MaxDateSkew: -1})
		if err != nil || !res.Valid {
			t.Errorf("clearsigned %s: %+v %v", signer, res, err)
		}
	}
}

func TestGPGUnsupportedCipherFailsCleanly(t *testing.T) {
	keys := loadKeys(t, fixture(t, "ed25519-secret.asc"))
	g := cryptotest.NewGPG(t)
	g.Import(fixture(t, "ed25519-secret.asc"))
	// go-crypto has no Camellia: the message must fail with an error, not
	// decrypt to garbage or panic.
	ct := g.MustRun([]byte(innerEntity), "--armor", "--cipher-algo", "CAMELLIA256", "--recipient", "ed@sealgate.test", "--encrypt")
	if _, err := Decrypt(new(bytes.Buffer), bytes.NewReader(wrapPGPMIME(ct)), keys, DecryptOptions{}); err == nil {
		t.Fatal("Camellia message decrypted without error")
	}
}

func TestEncryptRejectsExpiredRecipient(t *testing.T) {
	recips := loadKeys(t, fixture(t, "ed25519-pub.asc"))
	past := func() time.Time { return time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) }
	err := Encrypt(new(bytes.Buffer), strings.NewReader(sampleMessage), EncryptOptions{Recipients: recips, Now: past})
	if err == nil {
		t.Fatal("encrypting to a key not yet valid succeeded")
	}
	if err := Encrypt(new(bytes.Buffer), strings.NewReader(sampleMessage), EncryptOptions{}); err != ErrNoRecipients {
		t.Fatalf("no recipients: %v", err)
	}
}
