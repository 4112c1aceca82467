// Package deliverytest has what tests of outbound delivery need: a real SMTP server (go-smtp)
// on loopback that can be told to accept, answer 4xx or 5xx per recipient or to DATA, drop
// the connection or be down; a scripted peer on bare TCP (RawPeer) for replies go-smtp will
// not give and for the bytes as sent; and a DNS resolver that answers from maps. Test-only.
package deliverytest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/certtest"
)

// Resolver answers from maps. A name in neither map is "not found" (NXDOMAIN), or a temporary
// failure when Temporary is set.
type Resolver struct {
	MX        map[string][]*net.MX
	Hosts     map[string][]string // name → IP addresses
	Temporary bool
}

// LookupMX implements delivery.Resolver.
func (r *Resolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if mx, ok := r.MX[name]; ok {
		return mx, nil
	}
	return nil, r.miss(name)
}

// LookupIPAddr implements delivery.Resolver.
func (r *Resolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	ips, ok := r.Hosts[host]
	if !ok {
		return nil, r.miss(host)
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func (r *Resolver) miss(name string) error {
	if r.Temporary {
		return &net.DNSError{Err: "test resolver has no answer", Name: name, IsTemporary: true}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Received is one message a Peer accepted.
type Received struct {
	From     string
	To       []string
	Body     []byte
	TLS      bool
	AuthUser string
	Params   smtp.MailOptions
}

// Options configure a Peer.
type Options struct {
	// Addr to listen on; "" is 127.0.0.1:0.
	Addr string
	// TLS offers STARTTLS with a self-signed certificate for "localhost" and the peer's IP.
	TLS bool
	// No8BitMIME hides the 8BITMIME capability (go-smtp always offers it otherwise).
	No8BitMIME bool
	// SMTPUTF8 offers SMTPUTF8.
	SMTPUTF8 bool
	// MaxSize is advertised in SIZE; 0 is no limit.
	MaxSize int64
	// AuthUser and AuthPassword, when set, make AUTH PLAIN required.
	AuthUser, AuthPassword string
	// KnownRecipients, when set, makes the peer a mail server with these users only: RCPT for
	// any other address answers 550 5.1.1 (SetRcptReply still takes precedence).
	KnownRecipients []string
}

// Peer is a real SMTP server on loopback.
type Peer struct {
	t    testing.TB
	Addr string
	// Cert is the certificate the peer presents with STARTTLS (when Options.TLS).
	Cert *x509.Certificate
	srv  *smtp.Server
	ln   net.Listener
	opts Options

	watched
	received  []Received
	rcptReply map[string]*smtp.SMTPError
	dataReply *smtp.SMTPError
	drop      string // "", "rcpt" or "data"
	rcptSeen  map[string]int
	// BeforeDataReply, if set, runs after the message is read and before the reply; an error
	// is the reply (an *smtp.SMTPError) or, for any other error, the connection is dropped.
	beforeData func(c net.Conn, m Received) error
}

// Start runs a Peer until the test ends.
func Start(t testing.TB, opts Options) *Peer {
	t.Helper()
	p := &Peer{t: t, opts: opts, rcptReply: map[string]*smtp.SMTPError{}, rcptSeen: map[string]int{}, watched: newWatched()}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	p.Addr = ln.Addr().String()
	p.srv = smtp.NewServer(smtp.BackendFunc(p.newSession))
	p.srv.Domain = "peer.test"
	p.srv.EnableSMTPUTF8 = opts.SMTPUTF8
	p.srv.MaxMessageBytes = opts.MaxSize
	p.srv.AllowInsecureAuth = false
	p.srv.ReadTimeout = 30 * time.Second
	p.srv.WriteTimeout = 30 * time.Second
	if opts.TLS {
		p.srv.TLSConfig, p.Cert = selfSigned(t, ln.Addr().(*net.TCPAddr).IP)
	}
	var l net.Listener = ln
	if opts.No8BitMIME {
		l = &hideListener{Listener: ln}
	}
	go p.srv.Serve(l)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// Stop closes the listener and every session: the peer is down.
func (p *Peer) Stop() { p.srv.Close() }

// SetRcptReply makes RCPT TO:<rcpt> answer code (4xx or 5xx); code 0 accepts again.
func (p *Peer) SetRcptReply(rcpt string, code int, enhanced smtp.EnhancedCode, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if code == 0 {
		delete(p.rcptReply, strings.ToLower(rcpt))
		return
	}
	p.rcptReply[strings.ToLower(rcpt)] = &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
}

// SetDataReply makes the reply to the message code (4xx or 5xx); 0 accepts again.
func (p *Peer) SetDataReply(code int, enhanced smtp.EnhancedCode, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dataReply = nil
	if code != 0 {
		p.dataReply = &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
	}
}

// SetDrop drops the connection at "rcpt" (the first RCPT) or "data" (after the message is
// read, without a reply); "" stops dropping.
func (p *Peer) SetDrop(at string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop = at
}

// SetBeforeDataReply installs a hook that runs after the message is read and before the
// reply; see Peer.beforeData.
func (p *Peer) SetBeforeDataReply(f func(c net.Conn, m Received) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.beforeData = f
}

// Received returns the messages accepted so far.
func (p *Peer) Received() []Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Received(nil), p.received...)
}

// RcptAttempts counts RCPT commands for rcpt, accepted or not.
func (p *Peer) RcptAttempts(rcpt string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rcptSeen[strings.ToLower(rcpt)]
}

// Wait blocks until cond holds (checked after every change at the peer) or the timeout ends,
// and reports whether it held. The timeout only bounds a broken test.
func (p *Peer) Wait(timeout time.Duration, cond func(*Peer) bool) bool {
	return p.wait(timeout, func() bool { return cond(p) })
}

// WaitReceived waits until the peer holds n messages and returns them; it fails t when they
// do not come within 20 seconds (a bound for a broken test only).
func (p *Peer) WaitReceived(t testing.TB, n int) []Received {
	t.Helper()
	if !p.Wait(20*time.Second, func(p *Peer) bool { return len(p.Received()) == n }) {
		t.Fatalf("the peer holds %d messages, want %d", len(p.Received()), n)
	}
	return p.Received()
}

func (p *Peer) newSession(c *smtp.Conn) (smtp.Session, error) {
	p.mu.Lock()
	p.sessions++
	p.notify()
	p.mu.Unlock()
	return &session{p: p, conn: c}, nil
}

type session struct {
	p    *Peer
	conn *smtp.Conn
	cur  Received
	auth string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.p.opts.AuthUser == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.p.opts.AuthUser || password != s.p.opts.AuthPassword {
			return smtp.ErrAuthFailed
		}
		s.auth = username
		return nil
	}), nil
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.p.opts.AuthUser != "" && s.auth == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = Received{From: from, AuthUser: s.auth}
	if opts != nil {
		s.cur.Params = *opts
	}
	_, s.cur.TLS = s.conn.TLSConnectionState()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	p := s.p
	p.mu.Lock()
	p.rcptSeen[strings.ToLower(to)]++
	p.notify()
	reply := p.rcptReply[strings.ToLower(to)]
	drop := p.drop == "rcpt"
	p.mu.Unlock()
	if drop {
		s.conn.Conn().Close()
		return errors.New("dropped")
	}
	if reply != nil {
		return reply
	}
	if known := p.opts.KnownRecipients; len(known) > 0 && !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, to) }) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	p := s.p
	p.mu.Lock()
	reply, drop, hook := p.dataReply, p.drop == "data", p.beforeData
	p.mu.Unlock()
	s.cur.Body = body
	if hook != nil {
		if err := hook(s.conn.Conn(), s.cur); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) {
				return se
			}
			s.conn.Conn().Close()
			return err
		}
	}
	if drop {
		s.conn.Conn().Close()
		return errors.New("dropped")
	}
	if reply != nil {
		return reply
	}
	s.cur.Body = body
	p.mu.Lock()
	p.received = append(p.received, s.cur)
	p.notify()
	p.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = Received{} }
func (s *session) Logout() error { return nil }

// ClientGone reports whether the client of c has closed its end: it waits briefly for a
// byte or EOF. While a client waits for the reply to its message it sends nothing, so any
// read result other than a timeout means it is gone.
func ClientGone(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// hideListener removes 8BITMIME from the EHLO replies of its connections.
type hideListener struct{ net.Listener }

func (l *hideListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &hideConn{Conn: c}, nil
}

type hideConn struct{ net.Conn }

func (c *hideConn) Write(b []byte) (int, error) {
	out := bytes.ReplaceAll(b, []byte("250-8BITMIME\r\n"), nil)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// selfSigned is the peer's certificate for localhost, mx.peer.test and ip, its own root.
func selfSigned(t testing.TB, ip net.IP) (*tls.Config, *x509.Certificate) {
	t.Helper()
	c := certtest.New(t, certtest.Options{Names: []string{"localhost", "mx.peer.test"}, IPs: []net.IP{ip}, CA: true})
	return &tls.Config{Certificates: []tls.Certificate{c.TLS()}}, c.Leaf
}
