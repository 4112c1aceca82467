package keys_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/keys"
)

// A v4 key with an expiry, made here with go-crypto.
func expiringKey(t testing.TB, addr string, created time.Time, life time.Duration) []byte {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519,
		Time: func() time.Time { return created }, KeyLifetimeSecs: uint32(life / time.Second)}
	e, err := openpgp.NewEntity("", "", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLookupRules(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	start := tk.now

	// Expiry follows the injected clock.
	es := tk.mustImport(t, expiringKey(t, "exp@keys.test", start.Add(-time.Hour), 48*time.Hour), keys.ImportOptions{})
	if es[0].Expires.IsZero() || es[0].State(start) != keys.StateValid {
		t.Fatalf("expiring key: %+v", es[0])
	}
	if kr, _ := tk.EncryptionKeysPGP(ctx, "exp@keys.test"); len(kr) != 1 {
		t.Fatal("valid key not chosen")
	}
	tk.now = start.Add(72 * time.Hour)
	if kr, _ := tk.EncryptionKeysPGP(ctx, "exp@keys.test"); len(kr) != 0 {
		t.Fatal("expired key chosen for encryption")
	}
	if kr, _ := tk.VerificationKeysPGP(ctx, "exp@keys.test"); len(kr) != 1 {
		t.Fatal("expired key not offered to verify old signatures")
	}
	tk.now = start

	// Revocation: generated key with its secret; the public key then carries a revocation.
	e, err := tk.adm.GeneratePGP(ctx, "rev@keys.test", keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.SigningKeyPGP(ctx, "rev@keys.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.adm.Revoke(ctx, e.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.adm.Revoke(ctx, e.Fingerprint); err == nil {
		t.Fatal("revoked twice")
	}
	if kr, _ := tk.EncryptionKeysPGP(ctx, "rev@keys.test"); len(kr) != 0 {
		t.Fatal("revoked key chosen for encryption")
	}
	if _, err := tk.SigningKeyPGP(ctx, "rev@keys.test"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("revoked key chosen for signing: %v", err)
	}
	if dk, _ := tk.DecryptionKeysPGP(ctx, "rev@keys.test"); len(dk) != 1 {
		t.Fatal("revoked key no longer decrypts old mail")
	}
	pub, err := tk.adm.ExportPGP(ctx, e.Fingerprint, false)
	if err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
	if err != nil || !el[0].Revoked(time.Now()) {
		t.Fatalf("exported key does not carry the revocation: %v", err)
	}
	if got, _ := tk.Entry(ctx, e.Fingerprint); got.State(tk.now) != keys.StateRevoked {
		t.Fatalf("state %s", got.State(tk.now))
	}

	// Verified keys win over harvested ones; a harvested key for an address with a verified
	// key is a pending change, not a replacement.
	verified := tk.mustImport(t, fixture(t, "gpg-rsa-pub.asc"), keys.ImportOptions{})[0]
	other := expiringKey(t, "rsa@keys.test", start.Add(-time.Hour), 0)
	h, err := tk.HarvestAutocrypt(ctx, "Rsa@Keys.Test", other)
	if err != nil || h.Trust != keys.TrustHarvested || h.Source != keys.SourceAutocrypt {
		t.Fatalf("harvest: %+v %v", h, err)
	}
	kr, _ := tk.EncryptionKeysPGP(ctx, "rsa@keys.test")
	if len(kr) != 1 || kr[0].Fingerprint() != verified.Fingerprint {
		t.Fatalf("harvested key replaced the verified one: %v", kr)
	}
	ps, _ := tk.Pending(ctx)
	if len(ps) != 1 || ps[0].OldFingerprint != verified.Fingerprint || ps[0].NewFingerprint != h.Fingerprint || ps[0].Address != "rsa@keys.test" {
		t.Fatalf("pending: %+v", ps)
	}
	// Harvesting a verified key again changes nothing.
	if again, err := tk.HarvestAutocrypt(ctx, "rsa@keys.test", mustDearmor(t, fixture(t, "gpg-rsa-pub.asc"))); err != nil || again.Trust != keys.TrustVerified {
		t.Fatalf("re-harvest of a verified key: %+v %v", again, err)
	}
	// The operator marks the verified key untrusted: the harvested one is used.
	if _, err := tk.adm.SetTrust(ctx, verified.Fingerprint, keys.TrustUntrusted); err != nil {
		t.Fatal(err)
	}
	kr, _ = tk.EncryptionKeysPGP(ctx, "rsa@keys.test")
	if len(kr) != 1 || kr[0].Fingerprint() != h.Fingerprint {
		t.Fatalf("after untrusting the verified key: %v", kr)
	}
	// Only harvested keys: the most recently seen one.
	tk.now = start.Add(time.Minute)
	h2, err := tk.HarvestAutocrypt(ctx, "rsa@keys.test", expiringKey(t, "rsa@keys.test", start, 0))
	if err != nil {
		t.Fatal(err)
	}
	kr, _ = tk.EncryptionKeysPGP(ctx, "rsa@keys.test")
	if len(kr) != 1 || kr[0].Fingerprint() != h2.Fingerprint {
		t.Fatalf("newest harvested key not chosen: %v", kr)
	}
	// Autocrypt keydata that is not a key is refused.
	if _, err := tk.HarvestAutocrypt(ctx, "x@keys.test", []byte("garbage")); !errors.Is(err, keys.ErrRefused) {
		t.Fatalf("garbage Autocrypt keydata: %v", err)
	}

	// S/MIME harvest: a new certificate for an address with a verified one is pending.
	tk.now = start
	tk.mustImport(t, fixture(t, "rsa.pem"), keys.ImportOptions{})
	certPEM, _ := makeCert(t, "rsa@keys.test", start.Add(-time.Hour), start.Add(time.Hour*24*30))
	c := parseCertPEM(t, certPEM)
	hc, err := tk.HarvestCertificate(ctx, c, nil)
	if err != nil || hc.Trust != keys.TrustHarvested || hc.Source != keys.SourceSMIME {
		t.Fatalf("harvest certificate: %+v %v", hc, err)
	}
	certs, _ := tk.Certificates(ctx, "rsa@keys.test")
	if len(certs) != 1 || certs[0].Equal(c) {
		t.Fatal("harvested certificate replaced the verified one")
	}
	if ps, _ := tk.Pending(ctx); len(ps) != 2 || ps[1].Scheme != keys.SchemeSMIME {
		t.Fatalf("pending after certificate harvest: %+v", ps)
	}

	// Delete removes the entry and its secret.
	if _, err := tk.adm.Delete(ctx, e.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Entry(ctx, e.Fingerprint); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("deleted entry: %v", err)
	}
	if _, err := tk.adm.Delete(ctx, e.Fingerprint); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := tk.adm.Delete(ctx, "not-a-fingerprint"); err == nil || !strings.Contains(err.Error(), "not a fingerprint") {
		t.Fatalf("bad fingerprint: %v", err)
	}

	// The audit log has every change, in order, with actor and fingerprint.
	as, err := tk.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, a.Actor+" "+a.Action)
		if a.At.IsZero() || a.Fingerprint == "" {
			t.Fatalf("audit entry without time or fingerprint: %+v", a)
		}
	}
	want := "test import,test generate,test revoke,test import,harvest harvest,harvest pending,test trust,harvest harvest,test import,harvest harvest,harvest pending,test delete"
	if strings.Join(got, ",") != want {
		t.Fatalf("audit log:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

func mustDearmor(t testing.TB, armored []byte) []byte {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	el[0].Serialize(&b)
	return b.Bytes()
}

func TestWKDHandler(t *testing.T) {
	ctx := context.Background()
	tk := newKeyring(t)
	e, err := tk.adm.GeneratePGP(ctx, "Alice@example.test", keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tk.mustImport(t, fixture(t, "gpg-rsa-pub.asc"), keys.ImportOptions{}) // keys.test is not local
	if _, err := tk.HarvestAutocrypt(ctx, "bob@example.test", expiringKey(t, "bob@example.test", time.Now().Add(-time.Hour), 0)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(keys.NewWKD(tk.Keyring, func(d string) bool { return d == "example.test" }))
	defer srv.Close()
	get := func(host, path string) (int, []byte) {
		code, _, body := wiretest.Get(t, nil, srv.URL+path, host)
		return code, body
	}
	// The z-base-32 test vector of the WKD draft.
	if h := keys.WKDHash("Joe.Doe"); h != "iy9q119eutrkn8s1mk4r39qejnbu3n5q" {
		t.Fatalf("WKDHash = %s", h)
	}
	alice := keys.WKDHash("alice")
	for _, c := range []struct {
		host, path string
		code       int
	}{
		{"openpgpkey.example.test", "/.well-known/openpgpkey/example.test/hu/" + alice + "?l=alice", 200},
		{"example.test:8080", "/.well-known/openpgpkey/hu/" + alice + "?l=Alice", 200},
		{"example.test", "/.well-known/openpgpkey/hu/" + alice, 200},
		{"x", "/.well-known/openpgpkey/policy", 200},
		{"x", "/.well-known/openpgpkey/example.test/policy", 200},
		{"x", "/.well-known/openpgpkey/other.test/policy", 404},
		{"other.test", "/.well-known/openpgpkey/hu/" + alice, 404},                      // not a local domain
		{"x", "/.well-known/openpgpkey/keys.test/hu/" + keys.WKDHash("rsa"), 404},       // not local
		{"x", "/.well-known/openpgpkey/example.test/hu/" + keys.WKDHash("bob"), 404},    // harvested only
		{"x", "/.well-known/openpgpkey/example.test/hu/" + keys.WKDHash("nobody"), 404}, // no key
		{"x", "/.well-known/openpgpkey/example.test/hu/short", 404},
		{"x", "/.well-known/openpgpkey/example.test/hu/" + alice + "/x", 404},
	} {
		code, body := get(c.host, c.path)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d", c.host, c.path, code, c.code)
		}
		if code == 200 && strings.Contains(c.path, "/hu/") {
			el, err := openpgp.ReadKeyRing(bytes.NewReader(body))
			if err != nil || len(el) != 1 || el[0].PrivateKey != nil || strings.ToUpper(fmtFpr(el[0])) != e.Fingerprint {
				t.Errorf("%s: served key: %v", c.path, err)
			}
		}
	}
	// A revoked key is no longer served.
	if _, err := tk.adm.Revoke(ctx, e.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("example.test", "/.well-known/openpgpkey/hu/"+alice); code != 404 {
		t.Fatalf("revoked key served: %d", code)
	}
}

func fmtFpr(e *openpgp.Entity) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range e.PrimaryKey.Fingerprint {
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}
