package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/crypto/mimecrypt"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/crypto/smime"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/keys"
)

type secEnv struct {
	t     testing.TB
	p     *Pipeline
	store *mailstore.Store
	kr    *keys.Keyring
	admin *keys.Admin
	users map[string]mailstore.User
}

func newSecEnv(t testing.TB) *secEnv {
	t.Helper()
	dir := t.TempDir()
	s, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(dir, mk, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	e := &secEnv{t: t, store: s, kr: kr, admin: kr.Admin("test"), users: map[string]mailstore.User{}}
	e.p = New(Options{Hostname: "mx.example.test", Store: s, Policy: s, Keys: kr})
	for _, u := range []string{"alice@example.test", "bob@example.test", "carol@example.test"} {
		a, _ := address.Parse(u)
		usr, err := s.AddUser(context.Background(), a, "h")
		if err != nil {
			t.Fatal(err)
		}
		e.users[u] = usr
	}
	return e
}

func (e *secEnv) policy(scope string, kv ...string) {
	e.t.Helper()
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	if err := e.store.SetPolicy(context.Background(), scope, m); err != nil {
		e.t.Fatal(err)
	}
}

func (e *secEnv) rcpt(addr string) envelope.Recipient {
	a, _ := address.Parse(addr)
	return envelope.Recipient{Address: a, UserID: e.users[addr].ID}
}

func (e *secEnv) process(role Role, from string, msg string, rcpts ...string) error {
	e.t.Helper()
	env := &Envelope{ID: "T1", Role: role, RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "client.test", MailFrom: from, ReceivedAt: time.Now()}
	if role == RoleSubmission {
		u := e.users[from]
		env.AuthUser = &u
	}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, e.rcpt(r))
	}
	_, err := e.p.Process(context.Background(), env, msgbuf.FromBytes([]byte(msg)))
	return err
}

func (e *secEnv) inbox(addr string) [][]byte {
	e.t.Helper()
	ctx := context.Background()
	mb, _ := e.store.MailboxByName(ctx, e.users[addr].ID, "INBOX")
	msgs, _ := e.store.Messages(ctx, mb.ID)
	var out [][]byte
	for _, m := range msgs {
		rc, _, _ := e.store.OpenBody(ctx, m.BodyID)
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, b)
	}
	return out
}

func header(msg []byte, name string) string {
	for _, l := range strings.Split(string(msg), "\r\n") {
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

const secret = "The launch code is 0000."

// plainMsg is a message from from, dated now: an S/MIME signature made over it now must not
// differ from its Date by more than the verifier allows.
func plainMsg(from string) string {
	return "From: " + from + "\r\nTo: bob@example.test\r\nSubject: plans\r\nDate: " + time.Now().Format(time.RFC1123Z) +
		"\r\nContent-Type: text/plain\r\n\r\n" + secret + "\r\n"
}

func TestInboundEncryptAtRest(t *testing.T) {
	e := newAtRestEnv(t)
	ctx := context.Background()
	forged := "Sealgate-Security: received=pgp; decrypted=yes; signature=pass; signer=ceo@example.test; stored=plain\r\n" + plainMsg("x@outside.test")
	if err := e.process(RoleMX, "x@outside.test", forged, "bob@example.test", "alice@example.test"); err != nil {
		t.Fatal(err)
	}
	bob := e.inbox("bob@example.test")[0]
	if bytes.Contains(bob, []byte(secret)) {
		t.Fatal("plaintext stored for a recipient who wants encryption at rest")
	}
	if got := header(bob, "Sealgate-Security"); got != "received=plain; signature=none; stored=pgp" {
		t.Fatalf("Sealgate-Security %q", got)
	}
	if strings.Count(string(bob), "Sealgate-Security:") != 1 {
		t.Fatal("the forged Sealgate-Security header survived")
	}
	if k := mimecrypt.DetectBytes(bob).Kind; k != mimecrypt.PGPEncrypted {
		t.Fatalf("stored copy is %v", k)
	}
	ring, _ := e.kr.DecryptionKeysPGP(ctx, "bob@example.test")
	var out bytes.Buffer
	if _, err := pgpmime.Decrypt(&out, bytes.NewReader(bob), ring, pgpmime.DecryptOptions{}); err != nil || !strings.Contains(out.String(), secret) {
		t.Fatalf("bob cannot decrypt his copy: %v", err)
	}
	// alice has no such policy: she gets the plain message, as a copy of its own.
	alice := e.inbox("alice@example.test")[0]
	if !bytes.Contains(alice, []byte(secret)) || header(alice, "Sealgate-Security") != "received=plain; signature=none; stored=plain" {
		t.Fatalf("alice's copy:\n%s", alice)
	}
}

func TestInboundEncryptFailsClosed(t *testing.T) {
	e := newSecEnv(t)
	e.policy("example.test", "inbound.encrypt", "pgp")
	err := e.process(RoleMX, "x@outside.test", plainMsg("x@outside.test"), "carol@example.test")
	var rej *RejectError
	if !errors.As(err, &rej) || len(rej.Recipients) != 1 || rej.Recipients[0] != "carol@example.test" {
		t.Fatalf("got %v, want a rejection naming carol", err)
	}
	if n := len(e.inbox("carol@example.test")); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestInboundDecryptAndVerify(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()
	bobKey, err := e.admin.GeneratePGP(ctx, "bob@example.test", keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The sender's key: generated here, and known to the gateway as alice's.
	if _, err := e.admin.GeneratePGP(ctx, "alice@example.test", keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	to, _ := e.kr.EncryptionKeysPGP(ctx, "bob@example.test")
	signer, _ := e.kr.SigningKeyPGP(ctx, "alice@example.test")
	var enc bytes.Buffer
	if err := pgpmime.Encrypt(&enc, strings.NewReader(plainMsg("alice@example.test")), pgpmime.EncryptOptions{Recipients: to, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	if err := e.process(RoleMX, "alice@example.test", enc.String(), "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	got := e.inbox("bob@example.test")[0]
	if !bytes.Contains(got, []byte(secret)) {
		t.Fatalf("not decrypted:\n%s", got)
	}
	want := "received=pgp; decrypted=yes; signature=pass; signer=alice@example.test; key=" + signer.Fingerprint() + "; stored=plain"
	if h := header(got, "Sealgate-Security"); h != want {
		t.Fatalf("Sealgate-Security %q\nwant %q", h, want)
	}
	_ = bobKey
	// With inbound.decrypt=false the message is stored as it arrived, byte for byte.
	e.policy("bob@example.test", "inbound.decrypt", "false")
	if err := e.process(RoleMX, "alice@example.test", enc.String(), "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	kept := e.inbox("bob@example.test")[1]
	if !bytes.HasSuffix(kept, enc.Bytes()) || header(kept, "Sealgate-Security") != "received=pgp; decrypted=no; signature=none; stored=pgp" {
		t.Fatalf("not kept byte-exact:\n%s", kept)
	}
}

func TestSMIMEAtRestAndSignedResult(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()
	for _, u := range []string{"alice@example.test", "bob@example.test"} {
		if _, err := e.admin.GenerateSMIME(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	e.policy("bob@example.test", "inbound.encrypt", "smime")
	ck, err := e.kr.SigningCert(ctx, "alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	if err := smime.Sign(&signed, strings.NewReader(plainMsg("alice@example.test")), smime.SignOptions{Cert: ck.Cert, Key: ck.Key, Chain: ck.Chain}); err != nil {
		t.Fatal(err)
	}
	if err := e.process(RoleMX, "alice@example.test", signed.String(), "bob@example.test", "carol@example.test"); err != nil {
		t.Fatal(err)
	}
	carol := e.inbox("carol@example.test")[0]
	if h := header(carol, "Sealgate-Security"); !strings.HasPrefix(h, "received=plain; signature=pass; signer=alice@example.test; key="+smime.Fingerprint(ck.Cert)) {
		t.Fatalf("carol's Sealgate-Security %q", h)
	}
	if ar := header(carol, "Authentication-Results"); ar != "mx.example.test; smime=pass body.smime-identifier=alice@example.test" {
		t.Fatalf("Authentication-Results %q", ar)
	}
	if !bytes.HasSuffix(carol, signed.Bytes()) {
		t.Fatal("signed message not passed through byte-exact")
	}
	bob := e.inbox("bob@example.test")[0]
	if bytes.Contains(bob, []byte(secret)) || mimecrypt.DetectBytes(bob).Kind != mimecrypt.SMIMEEnveloped {
		t.Fatal("bob's copy is not S/MIME encrypted")
	}
}

func TestOutboundSignEncryptAndRequired(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()
	if _, err := e.admin.GeneratePGP(ctx, "alice@example.test", keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	partner, err := e.admin.GeneratePGP(ctx, "dave@partner.test", keys.PGPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.policy("alice@example.test", "outbound.sign", "pgp", "outbound.encrypt", "required")
	msg := "From: alice@example.test\r\nTo: dave@partner.test, erin@nokey.test\r\nSubject: q\r\n\r\n" + secret + "\r\n"
	env := func(rcpts ...string) *Envelope {
		u := e.users["alice@example.test"]
		en := &Envelope{ID: "T2", Role: RoleSubmission, AuthUser: &u, MailFrom: "alice@example.test", RemoteIP: netip.MustParseAddr("192.0.2.1"), ReceivedAt: time.Now()}
		for _, r := range rcpts {
			a, _ := address.Parse(r)
			en.Recipients = append(en.Recipients, envelope.Recipient{Address: a})
		}
		return en
	}
	_, err = e.p.Process(ctx, env("dave@partner.test", "erin@nokey.test"), msgbuf.FromBytes([]byte(msg)))
	var rej *RejectError
	if !errors.As(err, &rej) || strings.Join(rej.Recipients, ",") != "erin@nokey.test" {
		t.Fatalf("got %v, want a rejection naming erin only", err)
	}
	if _, err := e.p.Process(ctx, env("dave@partner.test"), msgbuf.FromBytes([]byte(msg))); err != nil {
		t.Fatal(err)
	}
	q, _ := e.store.QueueEntries(ctx)
	if len(q) != 1 {
		t.Fatalf("%d spool entries", len(q))
	}
	rc, _, _ := e.store.OpenBody(ctx, q[0].BodyID)
	out, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(out, []byte(secret)) || mimecrypt.DetectBytes(out).Kind != mimecrypt.PGPEncrypted {
		t.Fatalf("outbound copy not encrypted:\n%s", out)
	}
	if !strings.HasPrefix(header(out, "Autocrypt"), "addr=alice@example.test; keydata=") {
		t.Fatal("no Autocrypt header for a sender with an OpenPGP key")
	}
	if header(out, "Sealgate-Security") != "" {
		t.Fatal("Sealgate-Security leaks to another domain")
	}
	ring, _ := e.kr.DecryptionKeysPGP(ctx, "dave@partner.test")
	verify, _ := e.kr.VerificationKeysPGP(ctx, "alice@example.test")
	var dec bytes.Buffer
	r, err := pgpmime.Decrypt(&dec, bytes.NewReader(out), ring, pgpmime.DecryptOptions{VerifyKeys: verify})
	if err != nil || !strings.Contains(dec.String(), secret) || !r.Signature.Valid {
		t.Fatalf("dave's copy: %v, signature %+v", err, r.Signature)
	}
	_ = partner
}

func TestEqualDecisionsShareOneCopy(t *testing.T) {
	e := newSecEnv(t)
	if err := e.process(RoleMX, "x@outside.test", plainMsg("x@outside.test"), "alice@example.test", "bob@example.test", "carol@example.test"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var bodies []int64
	for _, u := range []string{"alice@example.test", "bob@example.test", "carol@example.test"} {
		mb, _ := e.store.MailboxByName(ctx, e.users[u].ID, "INBOX")
		msgs, _ := e.store.Messages(ctx, mb.ID)
		bodies = append(bodies, msgs[0].BodyID)
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("three plain recipients got bodies %v", bodies)
	}
}

func TestHarvesting(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()
	// An outside sender's key, made in another keyring, arrives in an Autocrypt header.
	other := newSecEnv(t)
	if _, err := other.admin.GeneratePGP(ctx, "frank@outside.test", keys.PGPOptions{}); err != nil {
		t.Fatal(err)
	}
	ring, _ := other.kr.EncryptionKeysPGP(ctx, "frank@outside.test")
	pub, _ := ring[0].PublicKeyBytes()
	msg := "From: Frank <frank@outside.test>\r\nAutocrypt: addr=frank@outside.test; prefer-encrypt=mutual; keydata=\r\n " +
		base64.StdEncoding.EncodeToString(pub) + "\r\nSubject: hi\r\n\r\nhello\r\n"
	if err := e.process(RoleMX, "frank@outside.test", msg, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	got, err := e.kr.EncryptionKeysPGP(ctx, "frank@outside.test")
	if err != nil || len(got) != 1 || got[0].Fingerprint() != ring[0].Fingerprint() {
		t.Fatalf("Autocrypt key not harvested: %v %v", got, err)
	}
	entries, _ := e.kr.Entries(ctx, "frank@outside.test")
	if len(entries) != 1 || entries[0].Trust != keys.TrustHarvested {
		t.Fatalf("entries %+v", entries)
	}
	// An Autocrypt header for another address than From is ignored.
	forged := strings.Replace(msg, "addr=frank@outside.test", "addr=ceo@example.test", 1)
	e.process(RoleMX, "frank@outside.test", forged, "bob@example.test")
	if ks, _ := e.kr.EncryptionKeysPGP(ctx, "ceo@example.test"); len(ks) != 0 {
		t.Fatal("Autocrypt key harvested for an address that is not the sender")
	}
}
