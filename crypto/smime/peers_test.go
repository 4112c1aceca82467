package smime

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/crypto/peertest"
)

// pssParty is the RSASSA-PSS signer of testdata (a key restricted to PSS
// signatures, its certificate issued by the test CA).
func pssParty(t testing.TB) party {
	dir := filepath.Join(cryptotest.Testdata(t), "smime")
	p := party{certPath: filepath.Join(dir, "pss.pem"), keyPath: filepath.Join(dir, "pss-key.pem")}
	blk, _ := pem.Decode(cryptotest.ReadFile(t, p.certPath))
	c, err := ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ = pem.Decode(cryptotest.ReadFile(t, p.keyPath))
	k, err := ParsePrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("RSASSA-PSS private key: %v", err)
	}
	p.cert, p.key = c, k
	return p
}

// OpenSSL's RSASSA-PSS signatures verify (`openssl cms -verify` accepts them, and so must
// Verify), whether the key is PSS-restricted or an ordinary RSA key signing with PSS.
func TestOpenSSLRSAPSSSignWeVerify(t *testing.T) {
	ca, caPath, rsaP, _ := fixtures(t)
	pss := pssParty(t)
	if pss.cert.PublicKey == nil || !IsRSAPSS(pss.cert) {
		t.Fatalf("ParseCertificate left the PSS key out: %T", pss.cert.PublicKey)
	}
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	for _, tc := range []struct {
		name  string
		p     party
		extra []string
	}{
		{"pss-key/detached", pss, nil},
		{"pss-key/opaque", pss, []string{"-nodetach"}},
		{"rsa-key-pss-padding", rsaP, []string{"-keyopt", "rsa_padding_mode:pss"}},
		{"rsa-key-pss-sha512", rsaP, []string{"-md", "sha512", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:max"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.p.cert.EmailAddresses[0]
			args := append([]string{"cms", "-sign", "-in", input, "-signer", tc.p.certPath, "-inkey", tc.p.keyPath, "-from", from, "-subject", "pss"}, tc.extra...)
			msg, err := openssl(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			printed, err := openssl(t, msg, "cms", "-cmsout", "-print", "-inform", "SMIME")
			if err != nil || !bytes.Contains(printed, []byte("rsassaPss")) {
				t.Fatalf("openssl did not sign with PSS: %v", err)
			}
			// The peer's own verdict first.
			opensslVerifyPSS(t, msg, tc.p, caPath)
			res, err := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca)})
			if err != nil || res.Status != StatusGood || res.Signer != from {
				t.Fatalf("Verify: %v %v %+v", err, res.Status, res.Reason)
			}
			if !strings.Contains(tc.name, "opaque") {
				tampered := bytes.Replace(msg, []byte("from Sealgate"), []byte("from Sealgatf"), 1)
				if _, err := openssl(t, tampered, "cms", "-verify", "-CAfile", caPath, "-out", "/dev/null"); err == nil {
					t.Fatal("openssl accepts the tampered message")
				}
				if r, _ := Verify(nil, bytes.NewReader(tampered), VerifyOptions{Roots: pool(ca)}); r.Status != StatusBad {
					t.Errorf("tampered: %v %s", r.Status, r.Reason)
				}
			}
		})
	}
}

// opensslVerifyPSS is OpenSSL's verdict on an S/MIME message signed with PSS: `openssl cms
// -verify`; for a PSS-restricted signer key, which OpenSSL 3.0's CMS code cannot check
// ("illegal or unsupported padding mode"), `openssl dgst -verify` on the signed attributes
// with the certificate's key, and `openssl verify` of the certificate.
func opensslVerifyPSS(t *testing.T, msg []byte, signer party, caPath string) {
	t.Helper()
	_, err := openssl(t, msg, "cms", "-verify", "-CAfile", caPath, "-purpose", "smimesign", "-out", "/dev/null")
	if err == nil {
		return
	}
	if !IsRSAPSS(signer.cert) || !strings.Contains(err.Error(), "unsupported padding mode") {
		t.Fatalf("openssl cms -verify: %v", err)
	}
	der, err := openssl(t, msg, "cms", "-cmsout", "-inform", "SMIME", "-outform", "DER")
	if err != nil {
		t.Fatal(err)
	}
	sis, err := signerInfos(der)
	if err != nil || len(sis) != 1 {
		t.Fatalf("SignedData: %v", err)
	}
	si := sis[0]
	attrs := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...) // signed as a SET (RFC 5652 §5.4)
	pub, err := openssl(t, nil, "x509", "-in", signer.certPath, "-noout", "-pubkey")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openssl(t, nil, "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto",
		"-verify", writeTemp(t, "pub.pem", pub), "-signature", writeTemp(t, "sig", si.Signature), writeTemp(t, "attrs", attrs)); err != nil {
		t.Fatalf("openssl dgst -verify: %v", err)
	}
	if _, err := openssl(t, nil, "verify", "-CAfile", caPath, "-purpose", "smimesign", signer.certPath); err != nil {
		t.Fatalf("openssl verify: %v", err)
	}
}

// A PSS-restricted key signs with PSS (never PKCS #1 v1.5, RFC 4055), and OpenSSL verifies
// it; nobody encrypts to it (OpenSSL refuses too).
func TestRSAPSSSignReadByOpenSSL(t *testing.T) {
	ca, caPath, _, _ := fixtures(t)
	pss := pssParty(t)
	msg := strings.Replace(sampleMessage, "RSA User <rsa@", "PSS User <pss@", 1)
	var out bytes.Buffer
	if err := Sign(&out, strings.NewReader(msg), SignOptions{Cert: pss.cert, Key: pss.key}); err != nil {
		t.Fatal(err)
	}
	printed, err := openssl(t, out.Bytes(), "cms", "-cmsout", "-print", "-inform", "SMIME")
	if err != nil || !bytes.Contains(printed, []byte("rsassaPss")) {
		t.Fatalf("not a PSS signature: %v\n%s", err, printed)
	}
	opensslVerifyPSS(t, out.Bytes(), pss, caPath)
	if r, err := Verify(nil, bytes.NewReader(out.Bytes()), VerifyOptions{Roots: pool(ca)}); err != nil || r.Status != StatusGood {
		t.Fatalf("Verify: %v %v %s", err, r.Status, r.Reason)
	}

	if _, err := openssl(t, nil, "cms", "-encrypt", "-in", writeTemp(t, "in.txt", []byte(sampleInner)), pss.certPath); err == nil {
		t.Fatal("openssl encrypts to a PSS-restricted key")
	}
	err = Encrypt(new(bytes.Buffer), strings.NewReader(sampleMessage), EncryptOptions{Recipients: []*x509.Certificate{pss.cert}})
	if !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("Encrypt to a PSS key: %v", err)
	}
}

// A signature made without certificates (openssl cms -sign -nocerts) verifies with the
// signer certificate from the keyring, as `openssl cms -verify -certfile` does; without it,
// it cannot be checked, which is not a forgery.
func TestNoCertsSignatureSignerFromKeyring(t *testing.T) {
	ca, caPath, rsaP, ecP := fixtures(t)
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	msg, err := openssl(t, nil, "cms", "-sign", "-nocerts", "-in", input, "-signer", rsaP.certPath, "-inkey", rsaP.keyPath,
		"-from", "rsa@sealgate.test", "-subject", "no certs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openssl(t, msg, "cms", "-verify", "-CAfile", caPath, "-out", "/dev/null"); err == nil {
		t.Fatal("openssl verifies without the signer certificate")
	}
	if _, err := openssl(t, msg, "cms", "-verify", "-CAfile", caPath, "-certfile", rsaP.certPath, "-out", "/dev/null"); err != nil {
		t.Fatalf("openssl cms -verify -certfile: %v", err)
	}
	r, err := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca)})
	if err != nil || r.Status != StatusUnknownSigner || r.Status.Checked() {
		t.Fatalf("without the certificate: %v %v %s", err, r.Status, r.Reason)
	}
	r, err = Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca), Certificates: []*x509.Certificate{ecP.cert, rsaP.cert}})
	if err != nil || r.Status != StatusGood || r.Signer != "rsa@sealgate.test" {
		t.Fatalf("with the keyring's certificate: %v %v %s", err, r.Status, r.Reason)
	}
	tampered := bytes.Replace(msg, []byte("from Sealgate"), []byte("from Sealgatf"), 1)
	if r, _ := Verify(nil, bytes.NewReader(tampered), VerifyOptions{Roots: pool(ca), Certificates: []*x509.Certificate{rsaP.cert}}); r.Status != StatusBad {
		t.Errorf("tampered: %v %s", r.Status, r.Reason)
	}
}

// OpenSSL's ECDH in cofactor mode (dhSinglePass-cofactorDH-sha*kdf-scheme, RFC 5753)
// decrypts.
func TestOpenSSLCofactorECDHWeDecrypt(t *testing.T) {
	_, _, _, ecP := fixtures(t)
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	for _, tc := range []struct{ kdf, oidName string }{{"sha1", "dhSinglePass-cofactorDH-sha1kdf-scheme"}, {"sha256", "dhSinglePass-cofactorDH-sha256kdf-scheme"}} {
		t.Run(tc.kdf, func(t *testing.T) {
			msg, err := openssl(t, nil, "cms", "-encrypt", "-aes256", "-in", input, "-subject", "cofactor",
				"-recip", ecP.certPath, "-keyopt", "ecdh_cofactor_mode:1", "-keyopt", "ecdh_kdf_md:"+tc.kdf)
			if err != nil {
				t.Fatal(err)
			}
			printed, err := openssl(t, msg, "cms", "-cmsout", "-print", "-inform", "SMIME")
			if err != nil || !bytes.Contains(printed, []byte(tc.oidName)) {
				t.Fatalf("openssl did not use %s: %v", tc.oidName, err)
			}
			if _, err := openssl(t, msg, "cms", "-decrypt", "-recip", ecP.certPath, "-inkey", ecP.keyPath); err != nil {
				t.Fatalf("openssl cms -decrypt: %v", err)
			}
			var out bytes.Buffer
			res, err := Decrypt(&out, bytes.NewReader(msg), ecP.cert, ecP.key, DecryptOptions{})
			if err != nil || res.KeyTransport != "ecdh" || !strings.HasSuffix(out.String(), sampleInner) {
				t.Fatalf("Decrypt: %v %+v %q", err, res, out.Bytes())
			}
		})
	}
}

// gpgStatus returns gpgsm's status keywords ("GOODSIG", "BADSIG", ...).
func gpgStatus(stderr []byte) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(string(stderr), "\n") {
		if rest, ok := strings.CutPrefix(l, "[GNUPG:] "); ok {
			m[strings.Fields(rest + " ")[0]] = true
		}
	}
	return m
}

// GnuPG's gpgsm both ways: its self-signed certificate (CA:TRUE, as gpgsm makes them) and
// signatures verify here, what is encrypted here to it gpgsm decrypts; what gpgsm encrypts to
// a certificate of the test CA decrypts here, and gpgsm verifies what is signed here.
func TestGPGSMInterop(t *testing.T) {
	ca, _, rsaP, _ := fixtures(t)
	g := peertest.NewGPGSM(t)
	certPEM := g.GenerateSelfSigned("Gpgsm User", "gsm@sealgate.test")
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatalf("gpgsm --gen-key: %q", certPEM)
	}
	gsm, err := ParseCertificate(blk.Bytes)
	if err != nil || !gsm.IsCA {
		t.Fatalf("gpgsm certificate: %v (CA:%v)", err, gsm != nil && gsm.IsCA)
	}
	sha1Of := func(c *x509.Certificate) string {
		s := sha1.Sum(c.Raw)
		return strings.ToUpper(hex.EncodeToString(s[:]))
	}
	g.Trust(sha1Of(gsm))
	g.Trust(sha1Of(ca))
	g.MustRun(nil, "", "--import", filepath.Join(cryptotest.Testdata(t), "smime", "ca.pem"), rsaP.certPath)

	t.Run("gpgsm-signs", func(t *testing.T) {
		content := writeTemp(t, "content", []byte(sampleInner))
		sig, errOut, err := g.Run(nil, "", "--detach-sign", "--local-user", "gsm@sealgate.test", content)
		if err != nil {
			t.Fatalf("gpgsm --detach-sign: %v\n%s", err, errOut)
		}
		_, errOut, err = g.Run(nil, "", "--verify", writeTemp(t, "sig", sig), content)
		if st := gpgStatus(errOut); err != nil || !st["GOODSIG"] {
			t.Fatalf("gpgsm --verify: %v\n%s", err, errOut)
		}
		msg := "From: Gpgsm User <gsm@sealgate.test>\r\nTo: rsa@sealgate.test\r\nSubject: signed by gpgsm\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b1\"\r\n\r\n" +
			"--b1\r\n" + sampleInner + "\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString(sig) + "\r\n--b1--\r\n"
		// gpgsm leaves the root out of a signature (--include-certs -2), and its self-signed
		// certificate is the root: the signer certificate must come from the keyring.
		r, err := Verify(nil, strings.NewReader(msg), VerifyOptions{Roots: pool(gsm)})
		if err != nil || r.Status != StatusUnknownSigner {
			t.Fatalf("Verify without the certificate: %v %v %s", err, r.Status, r.Reason)
		}
		// In the keyring, not trusted: the signature verifies, the certificate is untrusted.
		r, err = Verify(nil, strings.NewReader(msg), VerifyOptions{Roots: x509.NewCertPool(), Certificates: []*x509.Certificate{gsm}})
		if err != nil || r.Status != StatusUntrusted || !r.CryptoValid {
			t.Fatalf("Verify, certificate not trusted: %v %v %s", err, r.Status, r.Reason)
		}
		// Trusted as a signer by itself (an operator verified it), as gpgsm's trustlist does.
		keyring := VerifyOptions{Roots: x509.NewCertPool(), Certificates: []*x509.Certificate{gsm}, TrustedSigners: []*x509.Certificate{gsm}}
		r, err = Verify(nil, strings.NewReader(msg), keyring)
		if err != nil || r.Status != StatusGood || r.Signer != "gsm@sealgate.test" {
			t.Fatalf("Verify: %v %v %s", err, r.Status, r.Reason)
		}
		tampered := strings.Replace(msg, "from Sealgate", "from Sealgatf", 1)
		_, errOut, _ = g.Run(nil, "", "--verify", writeTemp(t, "sig", sig), writeTemp(t, "content2", []byte(strings.Replace(sampleInner, "from Sealgate", "from Sealgatf", 1))))
		if st := gpgStatus(errOut); !st["BADSIG"] {
			t.Fatalf("gpgsm on tampered content:\n%s", errOut)
		}
		if r, _ := Verify(nil, strings.NewReader(tampered), keyring); r.Status != StatusBad {
			t.Fatalf("tampered: %v %s", r.Status, r.Reason)
		}
	})

	t.Run("we-encrypt-gpgsm-decrypts", func(t *testing.T) {
		var out bytes.Buffer
		if err := Encrypt(&out, strings.NewReader(sampleMessage), EncryptOptions{Recipients: []*x509.Certificate{gsm}}); err != nil {
			t.Fatal(err)
		}
		parts := mimeutil.ParseEntity(out.Bytes())
		der, err := parts.Decoded()
		if err != nil {
			t.Fatal(err)
		}
		plain, errOut, err := g.Run(der, "", "--decrypt")
		if err != nil || string(plain) != sampleInner {
			t.Fatalf("gpgsm --decrypt: %v %q\n%s", err, plain, errOut)
		}
	})

	t.Run("gpgsm-encrypts-we-decrypt", func(t *testing.T) {
		ct, errOut, err := g.Run([]byte(sampleInner), "", "--encrypt", "--recipient", "rsa@sealgate.test")
		if err != nil {
			t.Fatalf("gpgsm --encrypt: %v\n%s", err, errOut)
		}
		msg := "From: Gpgsm User <gsm@sealgate.test>\r\nTo: rsa@sealgate.test\r\nSubject: from gpgsm\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString(ct) + "\r\n"
		var out bytes.Buffer
		if _, err := Decrypt(&out, strings.NewReader(msg), rsaP.cert, rsaP.key, DecryptOptions{}); err != nil || !strings.HasSuffix(out.String(), sampleInner) {
			t.Fatalf("Decrypt: %v %q", err, out.Bytes())
		}
	})

	t.Run("we-sign-gpgsm-verifies", func(t *testing.T) {
		var out bytes.Buffer
		if err := Sign(&out, strings.NewReader(sampleMessage), SignOptions{Cert: rsaP.cert, Key: rsaP.key}); err != nil {
			t.Fatal(err)
		}
		parts, err := mimeutil.ParseEntity(out.Bytes()).Parts()
		if err != nil || len(parts) != 2 {
			t.Fatal(err)
		}
		sig, _ := parts[1].Decoded()
		_, errOut, err := g.Run(nil, "", "--verify", writeTemp(t, "sig", sig), writeTemp(t, "content", parts[0].Raw))
		if st := gpgStatus(errOut); err != nil || !st["GOODSIG"] || !st["TRUST_FULLY"] && !st["VALIDSIG"] {
			t.Fatalf("gpgsm --verify: %v\n%s", err, errOut)
		}
	})
}

// A PSS key whose certificate restricts its parameters: SHA-256 with a 32-byte salt is what
// Sign makes; another hash is refused rather than signed against the restriction.
func TestRSAPSSRestrictedParameters(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		md   string
		sign bool
	}{{"sha256", true}, {"sha512", false}} {
		key, cert := filepath.Join(dir, c.md+".key"), filepath.Join(dir, c.md+".pem")
		if _, err := openssl(t, nil, "genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_pss_keygen_md:"+c.md,
			"-pkeyopt", "rsa_pss_keygen_mgf1_md:"+c.md, "-pkeyopt", "rsa_pss_keygen_saltlen:32", "-out", key); err != nil {
			t.Fatal(err)
		}
		if _, err := openssl(t, nil, "req", "-x509", "-key", key, "-subj", "/CN=PSS/emailAddress=pss@sealgate.test", "-days", "3", "-out", cert); err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(cryptotest.ReadFile(t, cert))
		pc, err := ParseCertificate(blk.Bytes)
		if err != nil || !IsRSAPSS(pc) {
			t.Fatalf("%s: %v", c.md, err)
		}
		blk, _ = pem.Decode(cryptotest.ReadFile(t, key))
		pk, err := ParsePrivateKey(blk.Bytes)
		if err != nil {
			t.Fatalf("%s key: %v", c.md, err)
		}
		msg := strings.Replace(sampleMessage, "RSA User <rsa@", "PSS User <pss@", 1)
		var out bytes.Buffer
		err = Sign(&out, strings.NewReader(msg), SignOptions{Cert: pc, Key: pk})
		if !c.sign {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("%s: Sign: %v", c.md, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Sign: %v", c.md, err)
		}
		r, err := Verify(nil, bytes.NewReader(out.Bytes()), VerifyOptions{Roots: pool(pc)})
		if err != nil || !r.CryptoValid {
			t.Fatalf("%s: Verify: %v %v %s", c.md, err, r.Status, r.Reason)
		}
		opensslVerifyPSS(t, out.Bytes(), party{cert: pc, key: pk, certPath: cert, keyPath: key}, cert)
	}
}

// A trusted self-signed signer certificate vouches for itself only: a certificate it issued
// (it is CA:TRUE, as `openssl req -x509` makes it) is not trusted through it.
func TestTrustedSignerIsNoTrustAnchor(t *testing.T) {
	dir := t.TempDir()
	selfKey, selfCert := filepath.Join(dir, "self.key"), filepath.Join(dir, "self.pem")
	if _, err := openssl(t, nil, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", selfKey,
		"-subj", "/CN=Self/emailAddress=self@sealgate.test", "-days", "3", "-out", selfCert); err != nil {
		t.Fatal(err)
	}
	leafKey, leafCSR, leafCert := filepath.Join(dir, "leaf.key"), filepath.Join(dir, "leaf.csr"), filepath.Join(dir, "leaf.pem")
	if _, err := openssl(t, nil, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", leafKey,
		"-subj", "/CN=Leaf/emailAddress=leaf@sealgate.test", "-out", leafCSR); err != nil {
		t.Fatal(err)
	}
	if _, err := openssl(t, nil, "x509", "-req", "-in", leafCSR, "-CA", selfCert, "-CAkey", selfKey, "-set_serial", "7", "-days", "3", "-out", leafCert); err != nil {
		t.Fatal(err)
	}
	load := func(p string) *x509.Certificate {
		blk, _ := pem.Decode(cryptotest.ReadFile(t, p))
		c, err := ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	self := load(selfCert)
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	for _, c := range []struct {
		cert, key, from string
		want            Status
	}{{selfCert, selfKey, "self@sealgate.test", StatusGood}, {leafCert, leafKey, "leaf@sealgate.test", StatusUntrusted}} {
		args := []string{"cms", "-sign", "-in", input, "-signer", c.cert, "-inkey", c.key, "-from", c.from, "-subject", "x"}
		if c.cert == leafCert {
			args = append(args, "-certfile", selfCert) // the chain travels with the message
		}
		msg, err := openssl(t, nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: x509.NewCertPool(), TrustedSigners: []*x509.Certificate{self}})
		if err != nil || r.Status != c.want {
			t.Errorf("%s: %v %v %s", c.from, err, r.Status, r.Reason)
		}
	}
}

// A signer named by subject key identifier (CMS version 3, `openssl cms -sign -keyid`) is
// found, in the message or in the keyring: OpenSSL verifies it, and so must Verify.
func TestOpenSSLKeyIDSigner(t *testing.T) {
	ca, caPath, rsaP, ecP := fixtures(t)
	input := writeTemp(t, "in.txt", []byte(sampleInner))
	for _, p := range []party{rsaP, ecP} {
		from := p.cert.EmailAddresses[0]
		for _, nocerts := range []bool{false, true} {
			args := []string{"cms", "-sign", "-keyid", "-in", input, "-signer", p.certPath, "-inkey", p.keyPath, "-from", from, "-subject", "keyid"}
			verifyArgs := []string{"cms", "-verify", "-CAfile", caPath, "-out", "/dev/null"}
			var keyring []*x509.Certificate
			if nocerts {
				args = append(args, "-nocerts")
				verifyArgs = append(verifyArgs, "-certfile", p.certPath)
				keyring = []*x509.Certificate{rsaP.cert, ecP.cert}
			}
			msg, err := openssl(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := openssl(t, msg, verifyArgs...); err != nil {
				t.Fatalf("openssl cms -verify: %v", err)
			}
			r, err := Verify(nil, bytes.NewReader(msg), VerifyOptions{Roots: pool(ca), Certificates: keyring})
			if err != nil || r.Status != StatusGood || r.Signer != from {
				t.Fatalf("%s nocerts=%v: %v %v %s", from, nocerts, err, r.Status, r.Reason)
			}
			tampered := bytes.Replace(msg, []byte("from Sealgate"), []byte("from Sealgatf"), 1)
			if r, _ := Verify(nil, bytes.NewReader(tampered), VerifyOptions{Roots: pool(ca), Certificates: keyring}); r.Status != StatusBad {
				t.Fatalf("%s tampered: %v %s", from, r.Status, r.Reason)
			}
		}
	}
}
