package smime

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/mimecrypt"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// smimeRow: steps are the outcomes of peeling the message layer by layer,
// outside in: "pass:<signer>", "mismatch:<signer>", "fail", "untrusted"
// for signatures, "dec" / "decfail" for encryption, "none" when the
// message is not S/MIME protected as a whole.
type smimeRow struct {
	file  string
	key   string // bob (default), bob2023, alice, fran, fran-ec
	roots string // ca (default) or ca2023
	part  int    // >0: process only this top-level part
	steps []string
	sha1  []string // steps with AllowSHA1 (SHA-1 rows only)
	text  string
}

const aliceText = "This is a test message from Alice to Bob."

func smimeCorpusRows() []smimeRow {
	rows := []smimeRow{
		{file: "alice.env.eml", steps: []string{"dec"}, text: aliceText},
		{file: "alice.env.eml", key: "alice", steps: []string{"decfail"}},
		{file: "alice.future.dsig.SHA256.multipart.eml", steps: []string{"mismatch:alice@example.com"}},
		{file: "manual/alice.dsig.SHA256.multipart.env.dsig.eml", steps: []string{"fail", "dec", "pass:alice@example.com"}, text: aliceText},
		{file: "manual/alice.env.mixed.dsig.SHA256.multipart.eml", steps: []string{"fail"}},
		{file: "manual/alice.env.mixed.dsig.SHA256.multipart.eml", roots: "ca2023", steps: []string{"fail"}},
		{file: "manual/outer-pgp-sig-inner-smime-enc-sig.eml", steps: []string{"decfail"}},
		{file: "manual/outer-pgp-sig-inner-smime-enc-sig.eml", key: "bob2023", roots: "ca2023", steps: []string{"dec", "pass:alice@example.com"}, text: aliceText},
		{file: "manual/outer-pgp-sig-inner-smime-enc.eml", steps: []string{"decfail"}},
		{file: "manual/outer-pgp-sig-inner-smime-enc.eml", key: "bob2023", steps: []string{"dec"}, text: aliceText},
		{file: "manual/outer-smime-bad-sig-inner-smime-enc-sig.eml", steps: []string{"fail", "dec", "pass:alice@example.com"}, text: aliceText},
		{file: "manual/outer-smime-bad-sig-inner-smime-enc.eml", steps: []string{"fail", "dec"}, text: aliceText},
		{file: "mochitest/alice.dsig.SHA256.multipart.in.mixed.eml", steps: []string{"partial:alice@example.com"}, text: aliceText},
		{file: "mochitest/alice.dsig.SHA256.multipart.in.mixed.with.header.eml", steps: []string{"none"}},
		{file: "mochitest/alice.dsig.SHA256.multipart.in.mixed.with.header.eml", part: 2, steps: []string{"pass:alice@example.com"}, text: aliceText},
		{file: "mochitest/alice.html.sig.SHA256.opaque.older-generation.eml", steps: []string{"untrusted"}},
		{file: "mochitest/multipart-alternative.eml", steps: []string{"none"}},
		{file: "mochitest/multipart-alternative.eml", part: 1, steps: []string{"dec"}},
		{file: "mochitest/multipart-alternative.eml", part: 2, steps: []string{"dec"}, text: "SECRET-TEXT"},
		{file: "mochitest/nested-sigs.eml", steps: []string{"fail"}},
	}
	for _, f := range []string{"fran-oaep-label_ossl.env", "fran-oaep-sha256hash-sha256mgf_ossl.env", "fran-oaep-sha256hash_ossl.env", "fran-oaep_ossl.env"} {
		rows = append(rows, smimeRow{file: "openssl-interop/" + f, key: "fran", steps: []string{"dec"}, text: "This is a test message to Fran."})
	}
	for _, f := range []string{"fran-ec_ossl-aes128-sha256.env", "fran-ec_ossl-aes256-sha512.env"} {
		rows = append(rows, smimeRow{file: "openssl-interop/" + f, key: "fran-ec", steps: []string{"dec"}, text: "This is a test message to Fran."})
		rows = append(rows, smimeRow{file: "openssl-interop/" + f, key: "fran", steps: []string{"decfail"}})
	}
	alice, dave := "pass:alice@example.com", "pass:dave@example.com"
	aliceMis := "mismatch:alice@example.com" // Alice's signature inside a message From: Dave
	for _, h := range []string{"SHA1", "SHA256", "SHA384", "SHA512"} {
		add := func(file string, steps, allowed []string, text string) {
			r := smimeRow{file: file, steps: steps, text: text}
			if h == "SHA1" {
				r.sha1 = allowed
				r.steps = make([]string, len(steps))
				for i, s := range allowed {
					r.steps[i] = s
					if strings.HasPrefix(s, "pass:") || strings.HasPrefix(s, "mismatch:") {
						r.steps[i] = "fail" // SHA-1 refused by default
					}
				}
			}
			rows = append(rows, r)
		}
		add("alice.dsig."+h+".multipart.eml", []string{alice}, []string{alice}, aliceText)
		add("alice.dsig."+h+".multipart.bad.eml", []string{"fail"}, []string{"fail"}, "")
		add("alice.dsig."+h+".multipart.mismatch-econtent.eml", []string{"fail"}, []string{"fail"}, "")
		add("alice.dsig."+h+".multipart.env.eml", []string{"dec", alice}, []string{"dec", alice}, aliceText)
		add("alice.sig."+h+".opaque.eml", []string{alice}, []string{alice}, aliceText)
		add("alice.sig."+h+".opaque.env.eml", []string{"dec", alice}, []string{"dec", alice}, aliceText)
		add("alice.html.sig."+h+".opaque.eml", []string{alice}, []string{alice}, "")
		add("alice.html.sig."+h+".opaque.env.eml", []string{"dec", alice}, []string{"dec", alice}, "")
		// encrypt-then-sign: the outer signature was made over LF text
		add("alice.env.dsig."+h+".multipart.eml", []string{"fail", "dec"}, []string{"fail", "dec"}, aliceText)
		add("alice.env.sig."+h+".opaque.eml", []string{alice, "dec"}, []string{alice, "dec"}, aliceText)
		add("alice.env.dsig."+h+".multipart.dave.sig."+h+".opaque.eml", []string{dave, "fail", "dec"}, []string{dave, "fail", "dec"}, aliceText)
		add("alice.env.sig."+h+".opaque.dave.sig."+h+".opaque.eml", []string{dave, aliceMis, "dec"}, []string{dave, aliceMis, "dec"}, aliceText)
		for _, inner := range []string{"dsig." + h + ".multipart", "sig." + h + ".opaque"} {
			for _, outer := range []string{"dsig." + h + ".multipart", "sig." + h + ".opaque"} {
				add("alice.plain."+inner+".dave."+outer+".eml", []string{dave, aliceMis}, []string{dave, aliceMis}, aliceText)
			}
		}
	}
	return rows
}

type keyPair struct {
	cert *x509.Certificate
	key  crypto.PrivateKey
}

func TestSMIMECorpus(t *testing.T) {
	dir := filepath.Join(cryptotest.Corpus(t), "smime")
	kp := func(cert, key string) keyPair {
		return keyPair{loadCert(t, filepath.Join(dir, cert)), loadKey(t, filepath.Join(dir, key))}
	}
	keys := map[string]keyPair{
		"bob":     kp("certs/Bob.pem", "keys/Bob-key.pem"),
		"alice":   kp("certs/Alice.pem", "keys/Alice-key.pem"),
		"bob2023": kp("gen2023/Bob-2023.pem", "gen2023/Bob-2023-key.pem"),
		"fran":    kp("certs/Fran.pem", "keys/Fran-key.pem"),
		"fran-ec": kp("certs/Fran-ec.pem", "keys/Fran-ec-key.pem"),
	}
	roots := map[string]*x509.CertPool{
		"ca":     pool(loadCert(t, filepath.Join(dir, "certs/TestCA.pem"))),
		"ca2023": pool(loadCert(t, filepath.Join(dir, "gen2023/TestCA-2023.pem"))),
	}
	rows := smimeCorpusRows()
	seen := map[string]bool{}
	for _, row := range rows {
		seen[row.file] = true
		for _, allowSHA1 := range []bool{false, true} {
			want := row.steps
			if allowSHA1 {
				if row.sha1 == nil {
					continue
				}
				want = row.sha1
			}
			name := fmt.Sprintf("%s/key=%s/roots=%s/part=%d/sha1=%v", row.file, row.key, row.roots, row.part, allowSHA1)
			t.Run(name, func(t *testing.T) {
				k := keys[row.key]
				if row.key == "" {
					k = keys["bob"]
				}
				r := roots[row.roots]
				if row.roots == "" {
					r = roots["ca"]
				}
				data := cryptotest.ReadFile(t, filepath.Join(dir, row.file))
				if row.part > 0 {
					parts, err := mimeutil.ParseEntity(data).Parts()
					if err != nil || len(parts) < row.part {
						t.Fatalf("no part %d", row.part)
					}
					data = parts[row.part-1].Raw
				}
				got, final := peel(data, k, VerifyOptions{Roots: r, Now: corpusNow, AllowSHA1: allowSHA1})
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("steps %v, want %v", got, want)
				}
				if row.text != "" && !strings.Contains(string(final), row.text) {
					t.Errorf("final entity lacks %q:\n%s", row.text, final)
				}
			})
		}
	}
	for _, g := range []string{"*.eml", "*/*.eml", "openssl-interop/*.env"} {
		files, _ := filepath.Glob(filepath.Join(dir, g))
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			if !seen[filepath.ToSlash(rel)] {
				t.Errorf("%s has no row", rel)
			}
		}
	}
}

// peel removes S/MIME layers one by one, as the gateway would: detect,
// then verify (unwrapping) or decrypt.
func peel(data []byte, k keyPair, vo VerifyOptions) (steps []string, final []byte) {
	for i := 0; i < 6; i++ {
		det := mimecrypt.DetectBytes(data)
		kind := det.Kind
		if kind == mimecrypt.PGPSigned && len(det.Layers) > 1 {
			kind = det.Layers[1] // an outer PGP signature is not ours to check
		}
		var out bytes.Buffer
		switch kind {
		case mimecrypt.SMIMESignedDetached, mimecrypt.SMIMESignedOpaque:
			r, err := Verify(&out, bytes.NewReader(data), vo)
			if err != nil {
				return append(steps, "error:"+err.Error()), data
			}
			s := r.Status.String()
			if r.Status == StatusGood || r.Status == StatusMismatch {
				s += ":" + r.Signer
			}
			if r.Partial && r.Status == StatusGood {
				s = "partial:" + r.Signer
			}
			steps = append(steps, s)
			if out.Len() == 0 {
				return steps, data
			}
			data = out.Bytes()
		case mimecrypt.SMIMEEnveloped, mimecrypt.SMIMEAuthEnveloped:
			_, err := Decrypt(&out, bytes.NewReader(data), k.cert, k.key, DecryptOptions{})
			if err != nil {
				if !errors.Is(err, ErrNoKey) {
					return append(steps, "error:"+err.Error()), data
				}
				return append(steps, "decfail"), data
			}
			steps = append(steps, "dec")
			data = out.Bytes()
		default:
			if len(steps) == 0 {
				steps = []string{"none"}
			}
			return steps, data
		}
	}
	return steps, data
}
