package dane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func makeCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if !ca {
		tmpl.DNSNames = []string{cn}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func spkiSHA256(c *x509.Certificate) []byte {
	s := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return s[:]
}

func TestVerify(t *testing.T) {
	ca, caKey := makeCert(t, "Test CA", nil, nil, true)
	leaf, _ := makeCert(t, "mx.example.org", ca, caKey, false)
	other, _ := makeCert(t, "mx.example.org", nil, nil, false)
	chain := []*x509.Certificate{leaf, ca}
	names := []string{"mx.example.org", "example.org"}
	ee := TLSA{Usage: UsageDANEEE, Selector: SelectorSPKI, Matching: MatchSHA256, Data: spkiSHA256(leaf)}
	ta := TLSA{Usage: UsageDANETA, Selector: SelectorSPKI, Matching: MatchSHA256, Data: spkiSHA256(ca)}
	pkix := TLSA{Usage: UsagePKIXEE, Selector: SelectorSPKI, Matching: MatchSHA256, Data: spkiSHA256(other)}
	for _, tc := range []struct {
		name    string
		records []TLSA
		chain   []*x509.Certificate
		names   []string
		ok      bool
	}{
		{"DANE-EE matches the leaf", []TLSA{ee}, chain, names, true},
		{"DANE-EE, another key", []TLSA{ee}, []*x509.Certificate{other}, names, false},
		{"DANE-EE ignores the name", []TLSA{ee}, chain, []string{"wrong.example"}, true},
		{"DANE-TA chains with the name", []TLSA{ta}, chain, names, true},
		{"DANE-TA, wrong name", []TLSA{ta}, chain, []string{"other.example"}, false},
		{"DANE-TA, not in the chain", []TLSA{ta}, []*x509.Certificate{other}, names, false},
		{"only unusable records: any certificate", []TLSA{pkix}, []*x509.Certificate{leaf}, names, true},
		{"full certificate match", []TLSA{{Usage: UsageDANEEE, Selector: SelectorCert, Matching: MatchFull, Data: leaf.Raw}}, chain, names, true},
	} {
		err := Verify(tc.records, tc.chain, tc.names)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// validating plays a validating resolver: it answers from zone and sets AD for names in
// secure.
func validating(t *testing.T, zone map[string][]dns.RR, secure map[string]bool, servfail map[string]bool) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		key := q.Name + " " + dns.TypeToString[q.Qtype]
		if servfail[q.Name] {
			m.Rcode = dns.RcodeServerFailure
		} else {
			m.Answer = zone[key]
			m.AuthenticatedData = secure[q.Name]
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestResolver(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	digest := hex.EncodeToString(make([]byte, 32))
	zone := map[string][]dns.RR{
		"signed.example. MX":               {rr("signed.example. 300 IN MX 10 mx.signed.example.")},
		"unsigned.example. MX":             {rr("unsigned.example. 300 IN MX 10 mx.unsigned.example.")},
		"_25._tcp.mx.signed.example. TLSA": {rr("_25._tcp.mx.signed.example. 300 IN TLSA 3 1 1 " + digest)},
		"_25._tcp.mx.unsigned.example. TLSA": {
			rr("_25._tcp.mx.unsigned.example. 300 IN TLSA 3 1 1 " + digest)},
	}
	secure := map[string]bool{"signed.example.": true, "_25._tcp.mx.signed.example.": true}
	r := &Resolver{Server: validating(t, zone, secure, map[string]bool{"_25._tcp.mx.broken.example.": true})}
	ctx := context.Background()
	if ok, err := r.SecureMX(ctx, "signed.example"); !ok || err != nil {
		t.Errorf("signed MX: %v %v", ok, err)
	}
	if ok, err := r.SecureMX(ctx, "unsigned.example"); ok || err != nil {
		t.Errorf("unsigned MX: %v %v", ok, err)
	}
	recs, err := r.TLSA(ctx, "mx.signed.example", 25)
	if err != nil || len(recs) != 1 || recs[0].Usage != UsageDANEEE || len(recs[0].Data) != 32 {
		t.Errorf("signed TLSA: %+v %v", recs, err)
	}
	if recs, err := r.TLSA(ctx, "mx.unsigned.example", 25); len(recs) != 0 || err != nil {
		t.Errorf("records without AD must not count: %+v %v", recs, err)
	}
	if _, err := r.TLSA(ctx, "mx.broken.example", 25); !errors.Is(err, ErrTemporary) {
		t.Errorf("SERVFAIL: %v", err)
	}
}
