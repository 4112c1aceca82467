package dnsask

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// A truncated UDP answer is asked again over TCP, and the TCP answer is the one returned.
func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("TCP port of the UDP one is taken: %v", err)
	}
	answer := func(truncated bool) dns.HandlerFunc {
		return func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Truncated = truncated
			if !truncated {
				m.Answer = append(m.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{"over tcp"},
				})
			}
			w.WriteMsg(m)
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: answer(true)}
	tcp := &dns.Server{Listener: ln, Handler: answer(false)}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })

	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeTXT)
	resp, err := Exchange(t.Context(), m, pc.LocalAddr().String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Truncated || len(resp.Answer) != 1 || resp.Answer[0].(*dns.TXT).Txt[0] != "over tcp" {
		t.Fatalf("answer %v", resp)
	}
}
