// Package dnstest runs a real authoritative DNS server on loopback (UDP and TCP, with
// github.com/miekg/dns) that answers from a zone given as a map, for tests of everything that
// looks names up: SPF, DKIM, DMARC, MX. Resolver returns a *net.Resolver that asks only it.
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Zone maps a record to its values: "example.test. TXT" → {"v=spf1 -all"}. Types: A, AAAA,
// TXT, MX ("10 mx.example.test."), PTR. A name with no record answers NXDOMAIN; a name listed
// under "SERVFAIL" answers SERVFAIL, and "*" listed there makes every unknown name SERVFAIL.
type Zone map[string][]string

// Server is a running DNS server.
type Server struct {
	Addr string
	mu   sync.Mutex
	zone Zone
	asks map[string]int // questions received, by "name TYPE"
	udp  *dns.Server
	tcp  *dns.Server
}

// Start serves zone until the test ends.
func Start(t testing.TB, zone Zone) *Server {
	t.Helper()
	// UDP and TCP on one port number: a free UDP port may be taken for TCP (a client socket
	// still closing), so try a few.
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), zone: zone, asks: map[string]int{}}
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: ln, Handler: s}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	t.Cleanup(func() { s.udp.Shutdown(); s.tcp.Shutdown() })
	return s
}

// Set replaces the values of one record.
func (s *Server) Set(key string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone[key] = values
}

// Asked is how many questions for key ("example.test. TXT") the server has received.
func (s *Server) Asked(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asks[key]
}

// Resolver asks only this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr)
	}}
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		s.asks[name+" "+dns.TypeToString[q.Qtype]]++
		for _, v := range s.zone["SERVFAIL"] {
			if strings.EqualFold(v, name) || (v == "*" && !s.nameExists(name)) {
				m.Rcode = dns.RcodeServerFailure
				w.WriteMsg(m)
				return
			}
		}
		typ := dns.TypeToString[q.Qtype]
		vals, ok := s.zone[name+" "+typ]
		if !ok && !s.nameExists(name) {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, v := range vals {
			var rr dns.RR
			var err error
			if typ == "TXT" {
				rr = &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: splitTXT(v)}
			} else {
				rr, err = dns.NewRR(q.Name + " 60 IN " + typ + " " + v)
			}
			if err == nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	w.WriteMsg(m)
}

func (s *Server) nameExists(name string) bool {
	for k := range s.zone {
		if strings.HasPrefix(k, name+" ") {
			return true
		}
	}
	return false
}

// splitTXT cuts a long TXT value into 255-byte strings, as DNS requires.
func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}
