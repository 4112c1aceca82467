package mailauth

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
	"github.com/sealgate/sealgate/keys"
)

func TestDKIMKeysSignAndVerify(t *testing.T) {
	dir := t.TempDir()
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	k := &DKIMKeys{Files: keys.DirFiles{Dir: dir}, MasterKey: mk}
	msg := []byte("From: alice@Example.TEST\r\nTo: bob@remote.test\r\nSubject: signed\r\n\r\nbody\r\n")
	if _, err := k.SignBytes(msg, "example.test"); !errors.Is(err, ErrNoDKIMKey) {
		t.Fatalf("sign without key: %v", err)
	}
	rec, err := k.Generate("Example.TEST", "s2026")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "s2026._domainkey.example.test" || !strings.HasPrefix(rec.Value, "v=DKIM1; k=rsa; p=") {
		t.Fatalf("record %+v", rec)
	}
	if _, err := k.Generate("example.test", "s2026"); err == nil {
		t.Fatal("selector overwritten")
	}
	if _, err := k.Generate("example.test", "Bad_Selector"); err == nil {
		t.Fatal("bad selector accepted")
	}
	recs, err := k.Records("example.test")
	if err != nil || len(recs) != 1 || recs[0] != rec {
		t.Fatalf("records %+v %v", recs, err)
	}
	// The private key is sealed on disk.
	raw, _ := os.ReadFile(filepath.Join(dir, "dkim", "example.test", "s2026.key"))
	if !bytes.HasPrefix(raw, []byte("SGSEAL1")) {
		t.Fatal("DKIM key not sealed")
	}
	signed, err := k.SignBytes(msg, "example.test")
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, dnstest.Zone{rec.Name + ". TXT": {rec.Value}})
	c := &Checker{Resolver: dns.Resolver()}
	r := c.Check(context.Background(), Input{IP: netip.MustParseAddr("192.0.2.1"), Helo: "x", Message: signed})
	if len(r.DKIM) != 1 || r.DKIM[0].Result != "pass" || r.DKIM[0].Domain != "example.test" {
		t.Fatalf("own signature does not verify: %+v", r.DKIM)
	}
}
