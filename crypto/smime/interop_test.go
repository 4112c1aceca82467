package smime

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

const sampleMessage = "From: RSA User <rsa@sealgate.test>\r\n" +
	"To: EC User <ec@sealgate.test>\r\n" +
	"Subject: S/MIME test\r\n" +
	"Message-ID: <2@sealgate.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"Gr\xc3\xbc\xc3\x9fe from Sealgate.\r\n" +
	"From a line starting with From\r\n"

const sampleInner = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
	"Gr\xc3\xbc\xc3\x9fe from Sealgate.\r\nFrom a line starting with From\r\n"

type party struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPath string
	keyPath  string
}

func fixtures(t testing.TB) (ca *x509.Certificate, caPath string, rsaP, ecP party) {
	dir := filepath.Join(cryptotest.Testdata(t), "smime")
	p := func(name string) party {
		return party{loadCert(t, filepath.Join(dir, name+".pem")), loadKey(t, filepath.Join(dir, name+"-key.pem")),
			filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")}
	}
	caPath = filepath.Join(dir, "ca.pem")
	return loadCert(t, caPath), caPath, p("rsa"), p("ec")
}

func openssl(t *testing.T, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	cryptotest.LookPath(t, "openssl")
	out, errOut, err := cryptotest.Run(t, nil, stdin, "openssl", args...)
	if err != nil {
		return out, errors.New(err.Error() + ": " + string(errOut))
	}
	return out, nil
}

func writeTemp(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEncryptReadByOpenSSL(t *testing.T) {
	_, _, rsaP, ecP := fixtures(t)
	for _, tc := range []struct {
		name   string
		to     []party
		cipher Cipher
		kt     KeyTransport
		stype  string
	}{
		{"rsa-aes256cbc", []party{rsaP}, AES256CBC, RSAPKCS1v15, "enveloped-data"},
		{"rsa-oaep-aes128cbc", []party{rsaP}, AES128CBC, RSAOAEP, "enveloped-data"},
		{"rsa-aes256gcm", []party{rsaP}, AES256GCM, RSAPKCS1v15, "authEnveloped-data"},
		{"ec-aes256cbc", []party{ecP}, AES256CBC, RSAPKCS1v15, "enveloped-data"},
		{"ec-aes128gcm", []party{ecP}, AES128GCM, RSAPKCS1v15, "authEnveloped-data"},
		{"rsa+ec-oaep-aes256cbc", []party{rsaP, ecP}, AES256CBC, RSAOAEP, "enveloped-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var certs []*x509.Certificate
			for _, p := range tc.to {
				certs = append(certs, p.cert)
			}
			var out bytes.Buffer
			if err := Encrypt(&out, strings.NewReader(sampleMessage), EncryptOptions{Recipients: certs, Cipher: tc.cipher, KeyTransport: tc.kt}); err != nil {
				t.Fatal(err)
			}
			top := mimeutil.ParseEntity(out.Bytes())
			if top.Params["smime-type"] != tc.stype || top.Header.Get("Subject") != "S/MIME test" {
				t.Fatalf("outer header: %s", top.RawHeader)
			}
			in := writeTemp(t, "msg.eml", out.Bytes())
			for _, p := range tc.to {
				plain, err := openssl(t, nil, "cms", "-decrypt", "-in", in, "-recip", p.certPath, "-inkey", p.keyPath)
				if err != nil {
					t.Fatalf("openssl cms -decrypt (%s): %v", p.cert.Subject.CommonName, err)
				}
				if string(plain) != sampleInner {
					t.Fatalf("openssl decrypted %q", plain)
				}
				var dec bytes.Buffer
				res, err := Decrypt(&dec, bytes.NewReader(out.Bytes()), p.cert, p.key, DecryptOptions{})
				if err != nil || !strings.HasSuffix(dec.String(), sampleInner) || res.SMIMEType != tc.stype {
					t.Fatalf("Decrypt: %v %+v %q", err, res, dec.Bytes())
				}
			}
		})
	}
}

func TestSignVerifiedByOpenSSL(t *testing.T) {
	ca, caPath, rsaP, ecP := fixtures(t)
	for _, p := range []party{rsaP, ecP} {
		for _, opaque := range []bool{false, true} {
			name := p.cert.Subject.CommonName
			if opaque {
				name += "/opaque"
			}
			t.Run(name, func(t *testing.T) {
				msg := sampleMessage
				if p.cert == ecP.cert {
					msg = strings.Replace(msg, "RSA User <rsa@", "EC User <ec@", 1)
				}
				var out bytes.Buffer
				if err := Sign(&out, strings.NewReader(msg), SignOptions{Cert: p.cert, Key: p.key, Opaque: opaque}); err != nil {
					t.Fatal(err)
				}
				in := writeTemp(t, "signed.eml", out.Bytes())
				content, err := openssl(t, nil, "cms", "-verify", "-in", in, "-CAfile", caPath, "-purpose", "smimesign")
				if err != nil {
					t.Fatalf("openssl cms -verify: %v", err)
				}
				if string(content) != sampleInner {
					t.Errorf("openssl content %q", content)
				}
				var unwrapped bytes.Buffer
				res, err := Verify(&unwrapped, bytes.NewReader(out.Bytes()), VerifyOptions{Roots: pool(ca)})
				if err != nil || res.Status != StatusGood || res.Opaque != opaque || res.Fingerprint != Fingerprint(p.cert) {
					t.Fatalf("Verify: %v %+v", err, res)
				}
				if !strings.HasSuffix(unwrapped.String(), sampleInner) || !strings.Contains(unwrapped.String(), "Subject: S/MIME test\r\n") {
					t.Errorf("unwrapped: %q", unwrapped.Bytes())
				}
				if !opaque {
					tampered := bytes.Replace(out.Bytes(), []byte("from Sealgate"), []byte("from Sealgatf"), 1)
					res, _ = Verify(nil, bytes.NewReader(tampered), VerifyOptions{Roots: pool(ca)})
					if res.Status != StatusBad || res.Valid {
						t.Errorf("tampered: %+v", res)
					}
				}
			})
		}
	}
}

func TestOpenSSLEncryptWeDecrypt(t *testing.T) {
	_, _, rsaP, ecP := fixtures(t)
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	for _, tc := range []struct {
		name   string
		p      party
		args   []string
		cipher string
	}{
		{"rsa-aes256", rsaP, []string{"-aes256"}, "aes256-cbc"},
		{"rsa-aes128", rsaP, []string{"-aes128"}, "aes128-cbc"},
		{"rsa-des3", rsaP, []string{"-des3"}, "des-ede3-cbc"},
		{"rsa-aes256gcm", rsaP, []string{"-aes-256-gcm"}, "aes256-gcm"},
		{"rsa-oaep", rsaP, []string{"-aes256", "-keyopt", "rsa_padding_mode:oaep"}, "aes256-cbc"},
		{"rsa-oaep-sha256", rsaP, []string{"-aes256", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}, "aes256-cbc"},
		{"ec-aes256", ecP, []string{"-aes256"}, "aes256-cbc"},
		{"ec-aes128gcm", ecP, []string{"-aes-128-gcm"}, "aes128-gcm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// -keyopt applies to the -recip before it.
			args := append([]string{"cms", "-encrypt", "-in", input, "-from", "rsa@sealgate.test", "-subject", "from openssl", "-recip", tc.p.certPath}, tc.args...)
			if tc.name == "ec-aes256" {
				args = append(args, "-binary")
			}
			msg, err := openssl(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := Decrypt(&out, bytes.NewReader(msg), tc.p.cert, tc.p.key, DecryptOptions{})
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if res.ContentCipher != tc.cipher || !strings.Contains(out.String(), "Gr\xc3\xbc\xc3\x9fe from Sealgate.") {
				t.Fatalf("%+v %q", res, out.Bytes())
			}
			wantKT := map[bool]string{true: "rsa-oaep", false: "rsa-pkcs1v15"}[strings.Contains(tc.name, "oaep")]
			if tc.p.cert == ecP.cert {
				wantKT = "ecdh"
			}
			if res.KeyTransport != wantKT {
				t.Errorf("key transport %q, want %q", res.KeyTransport, wantKT)
			}
			if !strings.Contains(out.String(), "Subject: from openssl") {
				t.Errorf("outer header lost: %q", out.Bytes())
			}
			// The other party's key must fail cleanly.
			other := ecP
			if tc.p.cert == ecP.cert {
				other = rsaP
			}
			if _, err := Decrypt(new(bytes.Buffer), bytes.NewReader(msg), other.cert, other.key, DecryptOptions{}); !errors.Is(err, ErrNoKey) {
				t.Errorf("wrong key: %v", err)
			}
		})
	}
}

func TestOpenSSLSignWeVerify(t *testing.T) {
	ca, _, rsaP, ecP := fixtures(t)
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	for _, p := range []party{rsaP, ecP} {
		for _, variant := range []string{"detached", "opaque", "sha512"} {
			t.Run(p.cert.Subject.CommonName+"/"+variant, func(t *testing.T) {
				from := p.cert.EmailAddresses[0]
				args := []string{"cms", "-sign", "-in", input, "-signer", p.certPath, "-inkey", p.keyPath, "-from", from, "-subject", "signed by openssl"}
				switch variant {
				case "opaque":
					args = append(args, "-nodetach")
				case "sha512":
					args = append(args, "-md", "sha512")
				}
				msg, err := openssl(t, nil, args...)
				if err != nil {
					t.Fatal(err)
				}
				res, err := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca)})
				if err != nil || res.Status != StatusGood || res.Signer != from {
					t.Fatalf("Verify: %v %+v", err, res)
				}
				if variant == "sha512" && res.Hash != "SHA512" {
					t.Errorf("hash %s", res.Hash)
				}
				// Not trusted without the right root, and not after expiry.
				other, _ := x509.SystemCertPool()
				if other == nil {
					other = x509.NewCertPool()
				}
				if r, _ := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: other}); r.Status != StatusUntrusted || !r.CryptoValid {
					t.Errorf("unknown root: %+v", r)
				}
				late := func() time.Time { return p.cert.NotAfter.Add(time.Hour) }
				if r, _ := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca), Now: late}); r.Status != StatusUntrusted {
					t.Errorf("expired: %+v", r)
				}
				if _, err := Verify(nil, bytes.NewReader(msg), VerifyOptions{}); !errors.Is(err, ErrNoTrustStore) {
					t.Errorf("no trust store: %v", err)
				}
				if variant == "detached" {
					tampered := bytes.Replace(msg, []byte("from Sealgate"), []byte("from Sealgatf"), 1)
					if r, _ := Verify(nil, bytes.NewReader(tampered), VerifyOptions{Roots: pool(ca)}); r.Status != StatusBad {
						t.Errorf("tampered: %+v", r)
					}
				}
			})
		}
	}
}
