// Package tlsrpt writes SMTP TLS reports (RFC 8460) about outbound delivery: a Recorder
// counts the TLS outcome of every session with a destination's MX hosts (delivery gives them
// as delivery.TLSResult), and a Reporter, once per interval, sends each destination domain
// that publishes a TLSRPT record (_smtp._tls.DOMAIN, "v=TLSRPTv1; rua=mailto:...") an
// aggregate report of the past interval: the RFC 8460 §4 JSON, gzipped, attached to a
// multipart/report mail (§5.3) handed to Send.
//
// # Failure semantics
//
// Counts gather in memory and move to a Store every SaveInterval (a minute) and when the
// gateway stops; a crash loses at most the counts since the last move. Without a Store they
// stay in memory and those of the interval under way are lost when the gateway stops. At
// report time the counts are taken from the Store (each once: with nodes sharing a database,
// whichever node reports first sends them all) before the reports are sent; a domain whose
// TLSRPT lookup or send fails loses those counts (it is logged). Only mailto: rua addresses
// are served; https: ones are skipped.
//
// # Bounds
//
// A Recorder keeps at most MaxDomains domains per interval and MaxDetails failure rows per
// policy; further failures count by result type alone (without MX host and address).
// Outcomes for domains beyond the bound are not counted. A TLSRPT record is read only up to
// its first 16 rua addresses and 2048 bytes.
package tlsrpt

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Bounds of one interval's counts.
const (
	MaxDomains = 10000
	MaxDetails = 100
)

// Recorder counts TLS outcomes per destination domain. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	now     func() time.Time
	begin   time.Time
	domains map[string]*domainCounts
}

var _ delivery.TLSRecorder = (*Recorder)(nil)

// NewRecorder starts counting at now(); nil now is time.Now.
func NewRecorder(now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{now: now, begin: now(), domains: map[string]*domainCounts{}}
}

type domainCounts struct {
	policies []*PolicyCounts
}

// PolicyCounts are the counts of one policy of one domain in an interval.
type PolicyCounts struct {
	Type    string   // delivery.PolicySTS, PolicyTLSA or PolicyNotFound
	Strings []string // the policy as RFC 8460 §4.4 writes it
	Success int64
	Failure int64
	Details []*FailureDetail
}

// FailureDetail counts the failed sessions of one kind with one MX address.
type FailureDetail struct {
	ResultType string
	MXHost, IP string
	Detail     string // the first failure's description
	Count      int64
}

// RecordTLS counts r.
func (rec *Recorder) RecordTLS(r delivery.TLSResult) {
	domain := strings.ToLower(strings.TrimSuffix(r.Domain, "."))
	if domain == "" {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	d := rec.domains[domain]
	if d == nil {
		if len(rec.domains) >= MaxDomains {
			return
		}
		d = &domainCounts{}
		rec.domains[domain] = d
	}
	i := slices.IndexFunc(d.policies, func(p *PolicyCounts) bool {
		return p.Type == r.PolicyType && slices.Equal(p.Strings, r.PolicyStrings)
	})
	if i < 0 {
		if len(d.policies) >= MaxDetails {
			return
		}
		d.policies = append(d.policies, &PolicyCounts{Type: r.PolicyType, Strings: slices.Clone(r.PolicyStrings)})
		i = len(d.policies) - 1
	}
	p := d.policies[i]
	if r.Failure == "" {
		p.Success++
		return
	}
	p.Failure++
	j := slices.IndexFunc(p.Details, func(f *FailureDetail) bool {
		return f.ResultType == r.Failure && f.MXHost == r.MXHost && f.IP == r.IP
	})
	if j >= 0 {
		p.Details[j].Count++
		return
	}
	if len(p.Details) < MaxDetails {
		p.Details = append(p.Details, &FailureDetail{ResultType: r.Failure, MXHost: r.MXHost, IP: r.IP, Detail: r.Detail, Count: 1})
		return
	}
	// Past the bound, failures count by result type alone (a short, fixed list).
	j = slices.IndexFunc(p.Details, func(f *FailureDetail) bool {
		return f.ResultType == r.Failure && f.MXHost == "" && f.IP == ""
	})
	if j >= 0 {
		p.Details[j].Count++
		return
	}
	p.Details = append(p.Details, &FailureDetail{ResultType: r.Failure, Count: 1})
}

// Period is one interval's counts, by lower-case domain.
type Period struct {
	Begin, End time.Time
	Domains    map[string][]*PolicyCounts
}

// counts turns p into rows for a Store.
func (p Period) counts() []mailstore.TLSCount {
	var out []mailstore.TLSCount
	for d, policies := range p.Domains {
		for _, pc := range policies {
			row := mailstore.TLSCount{Domain: d, PolicyType: pc.Type, PolicyString: strings.Join(pc.Strings, "\n"), Since: p.Begin}
			if pc.Success > 0 {
				r := row
				r.Count = pc.Success
				out = append(out, r)
			}
			for _, f := range pc.Details {
				r := row
				r.ResultType, r.MXHost, r.IP, r.Detail, r.Count = f.ResultType, f.MXHost, f.IP, f.Detail, f.Count
				out = append(out, r)
			}
		}
	}
	return out
}

// periods groups stored rows by domain; each domain's period begins at its earliest row.
func periods(rows []mailstore.TLSCount, end time.Time) map[string]Period {
	out := map[string]Period{}
	for _, row := range rows {
		p, ok := out[row.Domain]
		if !ok {
			p = Period{Begin: row.Since, End: end, Domains: map[string][]*PolicyCounts{}}
		}
		if row.Since.Before(p.Begin) {
			p.Begin = row.Since
		}
		var strs []string
		if row.PolicyString != "" {
			strs = strings.Split(row.PolicyString, "\n")
		}
		list := p.Domains[row.Domain]
		i := slices.IndexFunc(list, func(pc *PolicyCounts) bool { return pc.Type == row.PolicyType && slices.Equal(pc.Strings, strs) })
		if i < 0 {
			list = append(list, &PolicyCounts{Type: row.PolicyType, Strings: strs})
			i = len(list) - 1
		}
		pc := list[i]
		if row.ResultType == "" {
			pc.Success += row.Count
		} else {
			pc.Failure += row.Count
			pc.Details = append(pc.Details, &FailureDetail{ResultType: row.ResultType, MXHost: row.MXHost, IP: row.IP, Detail: row.Detail, Count: row.Count})
		}
		p.Domains[row.Domain] = list
		out[row.Domain] = p
	}
	return out
}

// Take returns the counts since the last Take (or NewRecorder) and starts a new interval.
func (rec *Recorder) Take() Period {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	now := rec.now()
	p := Period{Begin: rec.begin, End: now, Domains: map[string][]*PolicyCounts{}}
	for d, c := range rec.domains {
		p.Domains[d] = c.policies
	}
	rec.begin, rec.domains = now, map[string]*domainCounts{}
	return p
}
