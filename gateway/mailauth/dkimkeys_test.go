package mailauth

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// Of several `dkim generate` racing to make one selector (on one node or several sharing a
// database), one wins, and the published record is the winner's.
func TestDKIMGenerateRace(t *testing.T) {
	dir := t.TempDir()
	mk, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	recs := make([]DKIMRecord, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = (&DKIMKeys{Files: keys.DirFiles{Dir: dir}, MasterKey: mk}).Generate("example.test", "race")
		}()
	}
	wg.Wait()
	var won []DKIMRecord
	for i, err := range errs {
		if err == nil {
			won = append(won, recs[i])
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d racing generates succeeded: %v", len(won), n, errs)
	}
	got, err := (&DKIMKeys{Files: keys.DirFiles{Dir: dir}, MasterKey: mk}).Records("example.test")
	if err != nil || len(got) != 1 || got[0] != won[0] {
		t.Fatalf("published %v (%v), the winner made %v", got, err, won[0])
	}
}
