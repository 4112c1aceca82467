package pipeline

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"

	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/crypto/verdict"
	"github.com/sealgate/sealgate/policy"
)

// One row per outcome: the Sealgate-Security signature= value and the RFC 7281 smime= result.
// A signature that could not be checked is never "fail".
func TestVerdictMapping(t *testing.T) {
	for _, c := range []struct {
		s         sigInfo
		header    string
		smimeAuth authres.ResultValue
	}{
		{sigInfo{status: verdict.None}, "none", ""},
		{sigInfo{status: verdict.Pass}, "pass", authres.ResultPass},
		{sigInfo{status: verdict.Fail}, "fail", authres.ResultFail},
		{sigInfo{status: verdict.Mismatch}, "fail", authres.ResultPolicy},
		{sigInfo{status: verdict.Untrusted}, "untrusted", authres.ResultPolicy},
		{sigInfo{status: verdict.UnknownKey}, "unknown", authres.ResultNeutral},
		{sigInfo{status: verdict.Unsupported}, "unknown", authres.ResultNeutral},
		{sigInfo{status: verdict.UnknownKey, checkErr: authres.ResultTempError}, "unknown", authres.ResultTempError},
		{sigInfo{status: verdict.Unsupported, checkErr: authres.ResultPermError}, "unknown", authres.ResultPermError},
	} {
		if got := c.s.signatureValue(); got != c.header {
			t.Errorf("%v: signature=%s, want %s", c.s.status, got, c.header)
		}
		c.s.scheme = policy.SMIME
		r := smimeAuthResult(c.s)
		if c.smimeAuth == "" {
			if r != nil {
				t.Errorf("%v: smime result %v for no signature", c.s.status, r)
			}
			continue
		}
		if g, ok := r.(*authres.GenericResult); !ok || g.Value != c.smimeAuth {
			t.Errorf("%v (%s): smime=%v, want %s", c.s.status, c.s.checkErr, r, c.smimeAuth)
		}
		c.s.scheme = policy.PGP
		if r := smimeAuthResult(c.s); r != nil {
			t.Errorf("%v: an OpenPGP signature gets an smime= result", c.s.status)
		}
	}
}

// An S/MIME message the recipient's key does not open is stored as received, and the reason
// is logged as for OpenPGP (recipient and error, no key material).
func TestSMIMEDecryptionErrorLogged(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()
	if _, err := e.admin.GenerateSMIME(ctx, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	e.p.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	// Encrypted to a certificate whose key the gateway does not hold.
	blk, _ := pem.Decode(cryptoFixture(t, "rsa.pem"))
	other, err := smime.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	if err := smime.Encrypt(&enc, strings.NewReader(plainMsg("alice@example.test")), smime.EncryptOptions{Recipients: []*x509.Certificate{other}}); err != nil {
		t.Fatal(err)
	}
	if err := e.process(RoleMX, "alice@example.test", enc.String(), "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	bob := e.inbox("bob@example.test")[0]
	if h := header(bob, "Sealgate-Security"); h != "received=smime; decrypted=no; signature=none; stored=smime" {
		t.Fatalf("Sealgate-Security %q", h)
	}
	l := logs.String()
	if !strings.Contains(l, "message not decrypted") || !strings.Contains(l, "rcpt=bob@example.test") || !strings.Contains(l, "err=\"smime: the key cannot decrypt this message") {
		t.Fatalf("log:\n%s", l)
	}
	if strings.Contains(l, "PRIVATE KEY") || strings.Contains(l, secret) {
		t.Fatalf("secrets in the log:\n%s", l)
	}
}

func cryptoFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "crypto", "smime", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A signed message whose From is no address is checked without sender keys: the signer is
// unknown, not a keyring failure (temperror).
func TestSignatureWithoutFromAddress(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()
	if _, err := e.admin.GenerateSMIME(ctx, "alice@example.test"); err != nil {
		t.Fatal(err)
	}
	ck, err := e.kr.SigningCert(ctx, "alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	msg := strings.Replace(plainMsg("alice@example.test"), "From: alice@example.test", "From: undisclosed", 1)
	if err := smime.Sign(&signed, strings.NewReader(msg), smime.SignOptions{Cert: ck.Cert, Key: ck.Key, Chain: ck.Chain}); err != nil {
		t.Fatal(err)
	}
	if err := e.process(RoleMX, "alice@example.test", signed.String(), "carol@example.test"); err != nil {
		t.Fatal(err)
	}
	carol := e.inbox("carol@example.test")[0]
	if ar := header(carol, "Authentication-Results"); strings.Contains(ar, "temperror") || !strings.Contains(ar, "smime=") {
		t.Fatalf("Authentication-Results %q", ar)
	}
}
