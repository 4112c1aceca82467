package mailauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/sealgate/sealgate/crypto/peertest"
)

// spfSuitePath finds the RFC 7208 test suite (the openspf.org suite, release 2014.04): the
// shared copy (shared/conformance/spf, see peertest.Shared), else
// the copy in testdata. With SEALGATE_REQUIRE_PEERS=1 the shared copy must be there.
func spfSuitePath(t *testing.T) string {
	t.Helper()
	shared := peertest.Shared(t, filepath.Join("conformance", "spf", "rfc7208-tests.yml"))
	if shared != "" {
		return shared
	}
	if os.Getenv(peertest.RequireEnv) != "" {
		t.Fatal("the shared RFC 7208 suite (shared/conformance/spf) is missing")
	}
	t.Log("the shared RFC 7208 suite is missing: using the copy in testdata")
	return filepath.Join("testdata", "spf", "rfc7208-tests.yml")
}

type spfSuiteDoc struct {
	Description string                   `yaml:"description"`
	Tests       map[string]spfSuiteTest  `yaml:"tests"`
	Zonedata    map[string][]interface{} `yaml:"zonedata"`
}

type spfSuiteTest struct {
	Helo        string      `yaml:"helo"`
	Host        string      `yaml:"host"`
	MailFrom    string      `yaml:"mailfrom"`
	Result      interface{} `yaml:"result"` // one result, or a list of acceptable ones
	Explanation *string     `yaml:"explanation"`
}

// TestSPFSuite runs every test of the RFC 7208 suite: the result must be the one (or one of
// those) the suite gives, and so must the exp= explanation where it names one ("DEFAULT":
// the domain gives none). The zone data is served by suiteZone through the Resolver
// interface.
func TestSPFSuite(t *testing.T) {
	f, err := os.Open(spfSuitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	total, passed := 0, 0
	for {
		var doc spfSuiteDoc
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		zone, err := newSuiteZone(doc.Zonedata)
		if err != nil {
			t.Fatalf("%s: %v", doc.Description, err)
		}
		names := make([]string, 0, len(doc.Tests))
		for n := range doc.Tests {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			tc := doc.Tests[name]
			total++
			ip, err := netip.ParseAddr(tc.Host)
			if err != nil {
				t.Fatalf("%s: host %q", name, tc.Host)
			}
			q := SPFQuery{IP: ip, Helo: tc.Helo, MailFrom: tc.MailFrom, Now: func() time.Time { return time.Unix(1e9, 0) }}
			o := q.Check(context.Background(), zone)
			var want []string
			switch r := tc.Result.(type) {
			case string:
				want = []string{r}
			case []interface{}:
				for _, v := range r {
					want = append(want, fmt.Sprint(v))
				}
			}
			ok := false
			for _, w := range want {
				ok = ok || string(o.Result) == w
			}
			if !ok {
				t.Errorf("%s / %s: %s (%s), want %v", doc.Description, name, o.Result, o.Reason, want)
				continue
			}
			if tc.Explanation != nil && o.Result == SPFFail {
				wantExp := *tc.Explanation
				if wantExp == "DEFAULT" {
					wantExp = ""
				}
				if o.Explanation != wantExp {
					t.Errorf("%s / %s: explanation %q, want %q", doc.Description, name, o.Explanation, wantExp)
					continue
				}
			}
			passed++
		}
	}
	t.Logf("%d of %d tests of the RFC 7208 suite pass", passed, total)
	if total < 200 {
		t.Fatalf("only %d tests read from the suite", total)
	}
}

// suiteZone answers from a document's zonedata as a recursive resolver would: SPF-type
// records are served as TXT when the name lists no TXT ("TXT: NONE" lists none), CNAMEs are
// followed, TIMEOUT makes every question without records a temporary error, and a name or
// type without records is "not found" (NXDOMAIN and NODATA, as net.Resolver reports both).
type suiteZone struct {
	rrs     map[string]map[string][]interface{} // name → type → values
	timeout map[string]bool
}

func newSuiteZone(data map[string][]interface{}) (*suiteZone, error) {
	z := &suiteZone{rrs: map[string]map[string][]interface{}{}, timeout: map[string]bool{}}
	for name, recs := range data {
		name = strings.TrimSuffix(strings.ToLower(name), ".")
		types := map[string][]interface{}{}
		z.rrs[name] = types
		for _, r := range recs {
			switch r := r.(type) {
			case string:
				if r != "TIMEOUT" {
					return nil, fmt.Errorf("record %q of %s", r, name)
				}
				z.timeout[name] = true
			case map[interface{}]interface{}:
				for k, v := range r {
					typ := fmt.Sprint(k)
					if _, ok := types[typ]; !ok {
						types[typ] = nil
					}
					if v != "NONE" {
						types[typ] = append(types[typ], v)
					}
				}
			default:
				return nil, fmt.Errorf("record %v of %s", r, name)
			}
		}
		if _, ok := types["TXT"]; !ok && types["SPF"] != nil {
			types["TXT"] = types["SPF"]
		}
	}
	return z, nil
}

// lookup returns the values of name's records of typ, following CNAMEs.
func (z *suiteZone) lookup(name, typ string) ([]interface{}, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for hops := 0; hops < 8; hops++ {
		types := z.rrs[name]
		if vals := types[typ]; len(vals) > 0 {
			return vals, nil
		}
		if c := types["CNAME"]; len(c) > 0 && typ != "CNAME" {
			name = strings.TrimSuffix(strings.ToLower(fmt.Sprint(c[0])), ".")
			continue
		}
		if z.timeout[name] {
			return nil, &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true, IsTemporary: true}
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return nil, &net.DNSError{Err: "CNAME loop", Name: name, IsTemporary: true}
}

func (z *suiteZone) LookupTXT(_ context.Context, name string) ([]string, error) {
	vals, err := z.lookup(name, "TXT")
	var out []string
	for _, v := range vals {
		switch v := v.(type) {
		case []interface{}: // several strings of one record, glued together
			var b strings.Builder
			for _, s := range v {
				b.WriteString(fmt.Sprint(s))
			}
			out = append(out, b.String())
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out, err
}

func (z *suiteZone) LookupIP(_ context.Context, network, host string) ([]net.IP, error) {
	var out []net.IP
	var lastErr error
	for _, typ := range map[string][]string{"ip4": {"A"}, "ip6": {"AAAA"}, "ip": {"A", "AAAA"}}[network] {
		vals, err := z.lookup(host, typ)
		if err != nil {
			lastErr = err
			continue
		}
		for _, v := range vals {
			if ip := net.ParseIP(fmt.Sprint(v)); ip != nil {
				out = append(out, ip)
			}
		}
	}
	if len(out) == 0 {
		return nil, lastErr
	}
	return out, nil
}

func (z *suiteZone) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	vals, err := z.lookup(name, "MX")
	var out []*net.MX
	for _, v := range vals {
		pair, ok := v.([]interface{})
		if !ok || len(pair) != 2 {
			continue
		}
		pref, _ := pair[0].(int)
		out = append(out, &net.MX{Host: fmt.Sprint(pair[1]) + ".", Pref: uint16(pref)})
	}
	return out, err
}

func (z *suiteZone) LookupAddr(_ context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	var rev string
	if ip.Is4() {
		b := ip.As4()
		rev = fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", b[3], b[2], b[1], b[0])
	} else {
		hex := fmt.Sprintf("%x", ip.AsSlice())
		var parts []string
		for i := len(hex) - 1; i >= 0; i-- {
			parts = append(parts, hex[i:i+1])
		}
		rev = strings.Join(parts, ".") + ".ip6.arpa"
	}
	vals, err := z.lookup(rev, "PTR")
	var out []string
	for _, v := range vals {
		out = append(out, strings.TrimSuffix(fmt.Sprint(v), ".")+".")
	}
	return out, err
}

var _ Resolver = (*suiteZone)(nil)
