package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/mimecrypt"
	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/keys"
)

// With [keys] wkd_lookup on, a remote recipient's key published in its domain's Web Key
// Directory is found, kept as harvested, and used to encrypt; without one, `required` refuses.
// The look-up follows the setting that applies (the stricter of the sender's and the
// recipient's): a recipient domain that requires encryption gets its key looked up even when
// the sender's own setting is never.
func TestE2EWKDLookupForOutboundEncryption(t *testing.T) {
	// partner.test's key, made in a keyring of its own, published by a WKD server.
	other, err := keys.Open(t.TempDir(), mustMasterIn(t, t.TempDir()), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	published := map[string][]byte{} // WKD path → key
	for _, local := range []string{"dave", "frank"} {
		if _, err := other.Admin("partner").GeneratePGP(ctx, local+"@partner.test", keys.PGPOptions{}); err != nil {
			t.Fatal(err)
		}
		ring, _ := other.EncryptionKeysPGP(ctx, local+"@partner.test")
		pub, _ := ring[0].PublicKeyBytes()
		published["/.well-known/openpgpkey/partner.test/hu/"+keys.WKDHash(local)] = pub
	}
	wkd := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pub, ok := published[r.URL.Path]; ok {
			w.Write(pub)
			return
		}
		http.NotFound(w, r)
	}))
	defer wkd.Close()
	client := &keys.WKDClient{HTTP: wkd.Client(), URLs: func(domain, hash, local string) []string {
		return []string{wkd.URL + "/.well-known/openpgpkey/" + domain + "/hu/" + hash + "?l=" + local}
	}}

	peer := deliverytest.Start(t, deliverytest.Options{})
	env := gatewaytest.StartWith(t, gateway.Options{WKD: client}, func(c *config.Config) {
		c.Keys.WKDLookup = true
		c.Outbound.Routes = map[string]string{"partner.test": peer.Addr}
	})
	env.AddUser("alice@localhost", "alice-pw-123")
	setPolicy(t, env, "alice@localhost", "outbound.encrypt", "required")

	c := env.Submission("alice@localhost", "alice-pw-123")
	const marker = "found-by-wkd-secret"
	msg := "From: alice@localhost\r\nSubject: wkd\r\n\r\n" + marker + "\r\n"
	if err := c.SendMail("alice@localhost", []string{"dave@partner.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("to a recipient with a WKD key: %v", err)
	}
	err = c.SendMail("alice@localhost", []string{"erin@partner.test"}, strings.NewReader(msg))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("to a recipient without any key: %v", err)
	}
	peer.WaitReceived(t, 1)
	got := peer.Received()[0].Body
	if bytes.Contains(got, []byte(marker)) || mimecrypt.DetectBytes(got).Kind != mimecrypt.PGPEncrypted {
		t.Fatal("delivered without encryption")
	}
	secret, _ := other.DecryptionKeysPGP(ctx, "dave@partner.test")
	var out bytes.Buffer
	if _, err := pgpmime.Decrypt(&out, bytes.NewReader(got), secret, pgpmime.DecryptOptions{}); err != nil || !strings.Contains(out.String(), marker) {
		t.Fatalf("dave cannot decrypt: %v", err)
	}
	es, _ := env.GW.Keyring().Entries(ctx, "dave@partner.test")
	if len(es) != 1 || es[0].Trust != keys.TrustHarvested || es[0].Source != keys.SourceWKD {
		t.Fatalf("WKD key not kept as harvested: %+v", es)
	}

	setPolicy(t, env, "alice@localhost", "outbound.encrypt", "never")
	setPolicy(t, env, "partner.test", "outbound.encrypt", "required")
	if err := c.SendMail("alice@localhost", []string{"frank@partner.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("to a domain that requires encryption, from a sender whose own setting is never: %v", err)
	}
	peer.WaitReceived(t, 2)
	if got := peer.Received()[1].Body; bytes.Contains(got, []byte(marker)) {
		t.Fatal("delivered without encryption to a domain that requires it")
	}
}

func mustMasterIn(t *testing.T, dir string) *keys.MasterKey {
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}
