package dnsrecords

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sealgate/sealgate/gateway/internal/dnsask"
)

// Querier answers one DNS question with the record values in Record.Value's form.
type Querier interface {
	Query(ctx context.Context, name, typ string) ([]string, error)
}

// Result is the outcome of checking one record.
type Result struct {
	Record Record   `json:"record"`
	OK     bool     `json:"ok"`
	Have   []string `json:"have"`             // what the resolver answered
	Reason string   `json:"reason,omitempty"` // why not OK
}

// Check asks q for every record and says whether the answer holds it. A record set may hold
// other values beside the wanted one (another MX, an unrelated TXT), except that one name
// must not hold two TXT records of the same kind ("v=spf1 ...", "v=DMARC1 ..."): receivers
// then ignore both (RFC 7208 §4.5, RFC 7489 §6.6.3). A CNAME must be the wanted one.
func Check(ctx context.Context, q Querier, want []Record) []Result {
	out := make([]Result, 0, len(want))
	for _, r := range want {
		have, err := q.Query(ctx, r.Name, r.Type)
		res := Result{Record: r, Have: have}
		if res.Have == nil {
			res.Have = []string{}
		}
		switch {
		case err != nil:
			res.Reason = err.Error()
		case len(have) == 0:
			res.Reason = "not published"
		default:
			res.OK, res.Reason = compare(r, have)
		}
		out = append(out, res)
	}
	return out
}

func compare(r Record, have []string) (bool, string) {
	found := false
	for _, h := range have {
		if same(r.Type, r.Value, h) {
			found = true
		}
	}
	if r.Type == TypeTXT {
		kind, n := txtKind(r.Value), 0
		for _, h := range have {
			if strings.EqualFold(txtKind(h), kind) {
				n++
			}
		}
		if n > 1 {
			return false, fmt.Sprintf("%d records begin with %q: receivers ignore them all", n, kind)
		}
	}
	if !found {
		return false, "different value"
	}
	return true, ""
}

// txtKind is the version tag a TXT record begins with: "v=spf1", "v=DMARC1", ...
func txtKind(v string) string {
	f := strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ' ' })
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// same compares values: TXT byte for byte, names in the others without regard to case.
func same(typ, want, have string) bool {
	if typ == TypeTXT {
		return want == have
	}
	return strings.EqualFold(strings.Join(strings.Fields(want), " "), strings.Join(strings.Fields(have), " "))
}

// Resolver asks one DNS server (host:port) with recursion desired, over UDP and over TCP
// when the answer is truncated.
type Resolver struct {
	Server  string
	Timeout time.Duration // 5 s when 0
}

// SystemServer is the first name server of /etc/resolv.conf, as host:port.
func SystemServer() (string, error) {
	c, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return "", fmt.Errorf("dnsrecords: no resolver: %w", err)
	}
	if len(c.Servers) == 0 {
		return "", errors.New("dnsrecords: no name server in /etc/resolv.conf")
	}
	return net.JoinHostPort(c.Servers[0], c.Port), nil
}

// Query implements Querier. A name that does not exist answers no values and no error.
func (r Resolver) Query(ctx context.Context, name, typ string) ([]string, error) {
	qt, ok := dns.StringToType[typ]
	if !ok {
		return nil, fmt.Errorf("dnsrecords: unknown type %s", typ)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qt)
	m.RecursionDesired = true
	in, err := dnsask.Exchange(ctx, m, r.Server, r.Timeout)
	if err != nil {
		return nil, fmt.Errorf("dnsrecords: %s %s: %w", name, typ, err)
	}
	switch in.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("dnsrecords: %s %s: %s", name, typ, dns.RcodeToString[in.Rcode])
	}
	var out []string
	for _, rr := range in.Answer {
		if rr.Header().Rrtype != qt {
			continue // the CNAME chain in front of the answer
		}
		switch v := rr.(type) {
		case *dns.TXT:
			out = append(out, strings.Join(v.Txt, ""))
		case *dns.MX:
			out = append(out, fmt.Sprintf("%d %s", v.Preference, v.Mx))
		case *dns.SRV:
			out = append(out, fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, v.Target))
		case *dns.CNAME:
			out = append(out, v.Target)
		}
	}
	return out, nil
}
