// Package delivery is Sealgate's outbound SMTP client: it carries one message to the
// recipients of one domain and reports an outcome per recipient.
//
// # Where mail goes
//
// For a domain, in order of precedence: its [outbound.routes] entry, else the smarthost, else
// its MX hosts by preference (RFC 5321 §5.1), else its own A/AAAA records when it has no MX.
// Each address of each host is tried in turn until one completes the SMTP greeting, EHLO and
// (when the policy asks) STARTTLS; a failure after that is the attempt's result. When none
// does, the last address's failure is: permanent if it was a 5xx reply (a 554 greeting),
// temporary otherwise. A domain that does not exist, or publishes a null MX (RFC 7505), fails
// permanently.
//
// # Security
//
// STARTTLS is opportunistic by default (RFC 7435): used when offered, any certificate
// accepted, plain SMTP when the peer offers none or the handshake fails. A route may require
// TLS ("required") or a certificate valid for the hop's name ("verify"); then a peer without
// STARTTLS is a temporary failure. AUTH PLAIN is sent only inside TLS.
//
// # Protocol
//
// PIPELINING (MAIL and all RCPTs in one write), SIZE (refused before sending when the message
// is larger than the peer's limit), 8BITMIME and SMTPUTF8 are used when the peer offers them.
// A message that needs 8-bit transport or SMTPUTF8 and a peer that does not offer it fail
// permanently (5.6.3, 5.6.7): the message is never sent in a form the peer cannot take.
// Every line end in the content goes out as CRLF, bare CR and bare LF included (see
// dataWriter): no next hop can read a second message out of one.
//
// The client speaks SMTP itself rather than through go-smtp's client because that client
// cannot pipeline, cannot keep a plain session when STARTTLS is missing, and names itself
// "localhost" before STARTTLS.
package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// Options configure a Client. Zero values are documented per field.
type Options struct {
	// Hostname is the name given in EHLO; "" is "localhost".
	Hostname string
	// Resolver answers MX and address lookups; nil is net.DefaultResolver.
	Resolver Resolver
	// Routes are per-domain next hops (lower-case domain), overriding smarthost and MX.
	Routes map[string]Route
	// Smarthost, when set, receives all mail without a route instead of the MX hosts.
	Smarthost *Route
	// TLS is the policy for MX hosts; DomainTLS overrides it per (lower-case) domain.
	TLS       TLSPolicy
	DomainTLS map[string]TLSPolicy
	// RootCAs verifies certificates under TLSVerify; nil is the system pool.
	RootCAs *x509.CertPool
	// Port is the SMTP port of MX hosts; 0 is 25.
	Port int
	// DialTimeout bounds one TCP connect; 0 is 30 seconds.
	DialTimeout time.Duration
	// CommandTimeout bounds each reply; 0 is 5 minutes (RFC 5321 §4.5.3.2).
	CommandTimeout time.Duration
	// DataTimeout bounds the reply to the final dot; 0 is 10 minutes.
	DataTimeout time.Duration
	// Dial opens connections; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// STS finds the MTA-STS policies of destination domains for delivery to their MX hosts;
	// nil applies none. Routes and the smarthost are not subject to MTA-STS.
	STS STSResolver
	// DANE applies DANE (RFC 7672) to delivery to MX hosts; nil applies none.
	DANE DANEResolver
	// TLSReports receives the TLS outcome of every session with an MX host (RFC 8460);
	// nil records nothing.
	TLSReports TLSRecorder
	// Logger reports what MTA-STS testing policies would refuse; nil is slog.Default().
	Logger *slog.Logger
}

// Client delivers messages. It is safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 30 * time.Second
	}
	if opts.CommandTimeout == 0 {
		opts.CommandTimeout = 5 * time.Minute
	}
	if opts.DataTimeout == 0 {
		opts.DataTimeout = 10 * time.Minute
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.DialTimeout}
		opts.Dial = d.DialContext
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Client{opts: opts, log: log}
}

// Message is what Deliver sends.
type Message struct {
	From string   // envelope sender; "" for the null sender
	To   []string // recipients, all in Domain
	// Domain is the recipients' domain.
	Domain string
	Size   int64
	// Needs8Bit: the content has bytes above 127. NeedsUTF8: the header or an address is
	// not ASCII (RFC 6531/6532). Inspect computes both.
	Needs8Bit, NeedsUTF8 bool
	// Open returns the content from the start; it may be called more than once.
	Open func() (io.ReadCloser, error)
	// Progress, if set, is called with outcomes as soon as they are final: rejected
	// recipients after the RCPT replies, the rest after the reply to DATA, and a failure of
	// the whole message (an unknown domain, a refused sender) before Deliver returns. Every
	// final outcome that Deliver returns has been given to Progress, once. The queue records
	// them durably there, so a delivered recipient is never sent again.
	Progress func([]Result)
}

// Outcome is the result class of one recipient.
type Outcome int

// Outcomes.
const (
	Deferred  Outcome = iota // temporary failure: try again later
	Delivered                // the next hop took responsibility (250 to DATA)
	Failed                   // permanent failure: bounce
)

func (o Outcome) String() string { return [...]string{"deferred", "delivered", "failed"}[o] }

// Result is the outcome for one recipient.
type Result struct {
	Rcpt    string
	Outcome Outcome
	// Status is the RFC 3463 status code ("2.0.0", "5.1.1", "4.4.1").
	Status string
	// MTA is the host that gave the answer; "" when none was reached.
	MTA string
	// Reply is the SMTP reply ("550 5.1.1 No such user") when the answer came from the peer,
	// otherwise a description of the failure.
	Reply string
	// SMTP reports whether Reply is an SMTP reply.
	SMTP bool
}

// Inspect reports whether a message needs 8-bit transport (any byte above 127) and whether it
// needs SMTPUTF8 (a non-ASCII byte in its header section).
func Inspect(r io.Reader) (needs8Bit, needsUTF8 bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	inHeader := true
	for {
		line, err := br.ReadSlice('\n')
		for _, b := range line {
			if b >= 0x80 {
				needs8Bit = true
				if inHeader {
					needsUTF8 = true
				}
				break
			}
		}
		if inHeader && (len(line) == 1 || len(line) == 2 && line[0] == '\r') && err == nil {
			inHeader = false
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			return needs8Bit, needsUTF8, nil
		}
		if err != nil {
			return needs8Bit, needsUTF8, err
		}
		if needs8Bit && needsUTF8 {
			return true, true, nil
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Deliver sends m to its recipients and returns one Result per recipient, in m.To's order.
// It does not return an error: every failure is a recipient's outcome.
func (c *Client) Deliver(ctx context.Context, m *Message) []Result {
	if m.Progress == nil {
		return c.deliver(ctx, m)
	}
	// Most final outcomes are reported from inside the session; the rest (failures of the
	// whole message, wherever they arise) are reported here, so none can be missed.
	reported := map[string]bool{}
	mm := *m
	mm.Progress = func(res []Result) {
		for _, r := range res {
			reported[r.Rcpt] = true
		}
		m.Progress(res)
	}
	res := c.deliver(ctx, &mm)
	var rest []Result
	for _, r := range res {
		if r.Outcome != Deferred && !reported[r.Rcpt] {
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 {
		m.Progress(rest)
	}
	return res
}

func (c *Client) deliver(ctx context.Context, m *Message) []Result {
	if !isASCII(m.From) {
		m.NeedsUTF8 = true
	}
	for _, r := range m.To {
		if !isASCII(r) {
			m.NeedsUTF8 = true
		}
	}
	hops, err := c.hops(ctx, m.Domain)
	if err != nil {
		switch {
		case errors.Is(err, errNullMX):
			return all(m.To, Failed, "5.1.10", "", err.Error(), false)
		case errors.Is(err, errNotFound):
			return all(m.To, Failed, "5.1.2", "", err.Error(), false)
		}
		return all(m.To, Deferred, "4.4.3", "", err.Error(), false)
	}
	var last []Result
	for _, h := range hops {
		for _, addr := range h.addrs {
			res, final := c.try(ctx, h, addr, m, false)
			if final {
				return res
			}
			last = res
			if ctx.Err() != nil {
				return last
			}
		}
	}
	return last
}

func all(rcpts []string, o Outcome, status, mta, reply string, isSMTP bool) []Result {
	out := make([]Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = Result{Rcpt: r, Outcome: o, Status: status, MTA: mta, Reply: reply, SMTP: isSMTP}
	}
	return out
}

// errNextHop is a failure before the transaction (connect, greeting, EHLO, TLS): the next
// address or host may do better.
type errNextHop struct {
	status string
	reply  string
	isSMTP bool
}

func (e *errNextHop) Error() string { return e.reply }

// try runs one session with addr. final is false when the next address should be tried.
func (c *Client) try(ctx context.Context, h hop, addr string, m *Message, plainOnly bool) (res []Result, final bool) {
	conn, err := c.opts.Dial(ctx, "tcp", addr)
	if err != nil {
		return all(m.To, Deferred, "4.4.1", h.host, fmt.Sprintf("connect to %s: %v", addr, unwrapNet(err)), false), false
	}
	s := &session{c: c, conn: conn, host: h.host}
	s.setConn(conn)
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // closing TCP also ends TLS on it
	defer func() {
		stop()
		s.conn.Close()
	}()
	if err := s.open(h, addr, plainOnly); err != nil {
		var nh *errNextHop
		if errors.As(err, &nh) {
			if nh.status == "tls-fallback" {
				s.conn.Close()
				return c.try(ctx, h, addr, m, true)
			}
			o := Deferred
			if nh.isSMTP && strings.HasPrefix(nh.status, "5") {
				o = Failed // unless another address or host does better
			}
			return all(m.To, o, nh.status, h.host, nh.reply, nh.isSMTP), false
		}
		return all(m.To, Deferred, "4.4.2", h.host, s.describe(ctx, err), false), false
	}
	res = s.transaction(ctx, m)
	s.quit()
	return res, true
}

func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// session is one SMTP connection.
type session struct {
	c    *Client
	conn net.Conn
	host string
	br   *bufio.Reader
	bw   *bufio.Writer
	ext  map[string]string
	tls  bool
}

func (s *session) setConn(conn net.Conn) {
	s.conn = conn
	s.br = bufio.NewReaderSize(conn, 4096)
	s.bw = bufio.NewWriter(conn)
}

func (s *session) describe(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "delivery interrupted: " + ctx.Err().Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout waiting for " + s.host
	}
	return fmt.Sprintf("connection with %s lost: %v", s.host, unwrapNet(err))
}

// reply is one SMTP reply.
type reply struct {
	code int
	text string // the lines joined with "\n", without codes
}

func (r reply) String() string {
	return strconv.Itoa(r.code) + " " + strings.ReplaceAll(r.text, "\n", " ")
}

// status is the reply's enhanced status code, or one made from the basic code.
func (r reply) status() string {
	f, _, _ := strings.Cut(r.text, " ")
	if p := strings.Split(f, "."); len(p) == 3 && len(f) >= 5 && f[0] == byte('0'+r.code/100) {
		ok := true
		for _, x := range p {
			if _, err := strconv.Atoi(x); err != nil {
				ok = false
			}
		}
		if ok {
			return f
		}
	}
	return fmt.Sprintf("%d.0.0", r.code/100)
}

const maxReplyLines = 100

func (s *session) readReply(timeout time.Duration) (reply, error) {
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	var r reply
	var lines []string
	for i := 0; ; i++ {
		line, err := s.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return r, errors.New("reply line too long")
			}
			return r, err
		}
		l := strings.TrimRight(string(line), "\r\n")
		if len(l) < 3 || i >= maxReplyLines {
			return r, fmt.Errorf("malformed reply %q", l)
		}
		code, err := strconv.Atoi(l[:3])
		if err != nil || code < 200 || code > 599 || (r.code != 0 && code != r.code) {
			return r, fmt.Errorf("malformed reply %q", l)
		}
		r.code = code
		more := len(l) > 3 && l[3] == '-'
		if len(l) > 4 {
			lines = append(lines, l[4:])
		} else {
			lines = append(lines, "")
		}
		if !more {
			r.text = strings.Join(lines, "\n")
			return r, nil
		}
	}
}

// write buffers a command; flush sends what is buffered.
func (s *session) write(format string, args ...any) {
	fmt.Fprintf(s.bw, format+"\r\n", args...)
}

func (s *session) flush() error {
	s.conn.SetWriteDeadline(time.Now().Add(s.c.opts.CommandTimeout))
	return s.bw.Flush()
}

func (s *session) cmd(format string, args ...any) (reply, error) {
	s.write(format, args...)
	if err := s.flush(); err != nil {
		return reply{}, err
	}
	return s.readReply(s.c.opts.CommandTimeout)
}

// open runs greeting, EHLO, STARTTLS and AUTH.
func (s *session) open(h hop, addr string, plainOnly bool) error {
	r, err := s.readReply(s.c.opts.CommandTimeout)
	if err != nil {
		return err
	}
	if r.code != 220 {
		return &errNextHop{status: r.status(), reply: r.String(), isSMTP: true}
	}
	if err := s.hello(); err != nil {
		return err
	}
	_, offered := s.ext["STARTTLS"]
	switch {
	case h.tls == TLSNone || plainOnly:
	case offered:
		r, err := s.cmd("STARTTLS")
		if err != nil {
			return err
		}
		if r.code != 220 {
			s.c.recordTLS(h, addr, "starttls-not-supported", "STARTTLS refused: "+r.String())
			if h.tls == TLSOpportunistic {
				break
			}
			return &errNextHop{status: "4.7.5", reply: "STARTTLS refused: " + r.String(), isSMTP: true}
		}
		conf := &tls.Config{ServerName: h.host, MinVersion: tls.VersionTLS12}
		if h.dane != nil {
			daneConfig(conf, h)
		} else if h.tls == TLSVerify {
			conf.RootCAs = s.c.opts.RootCAs
		} else {
			conf.InsecureSkipVerify = true // RFC 7435: opportunistic and "required" take any certificate
		}
		tc := tls.Client(s.conn, conf)
		tc.SetDeadline(time.Now().Add(s.c.opts.CommandTimeout))
		if err := tc.Handshake(); err != nil {
			s.c.recordTLS(h, addr, tlsFailure(err), err.Error())
			if h.tls == TLSOpportunistic {
				return &errNextHop{status: "tls-fallback"}
			}
			return &errNextHop{status: "4.7.5", reply: "TLS handshake: " + err.Error()}
		}
		tc.SetDeadline(time.Time{})
		state := tc.ConnectionState()
		failure, detail := s.reportSTSTesting(h, &state) // "" unless testing mode would refuse
		s.c.recordTLS(h, addr, failure, detail)
		s.setConn(tc)
		s.tls = true
		if err := s.hello(); err != nil {
			return err
		}
	case h.tls != TLSOpportunistic:
		s.c.recordTLS(h, addr, "starttls-not-supported", h.host+" offers no STARTTLS")
		return &errNextHop{status: "4.7.4", reply: fmt.Sprintf("%s offers no STARTTLS and the route requires TLS", h.host)}
	default:
		s.c.recordTLS(h, addr, "starttls-not-supported", h.host+" offers no STARTTLS")
		s.reportSTSTesting(h, nil)
	}
	if h.auth != nil {
		if !s.tls {
			return &errNextHop{status: "4.7.4", reply: "not sending AUTH to " + h.host + " without TLS"}
		}
		return s.auth(h.auth)
	}
	return nil
}

func (s *session) hello() error {
	r, err := s.cmd("EHLO %s", s.c.opts.Hostname)
	if err != nil {
		return err
	}
	s.ext = map[string]string{}
	if r.code == 250 {
		lines := strings.Split(r.text, "\n")
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			s.ext[strings.ToUpper(k)] = v
		}
		return nil
	}
	r, err = s.cmd("HELO %s", s.c.opts.Hostname)
	if err != nil {
		return err
	}
	if r.code != 250 {
		return &errNextHop{status: r.status(), reply: r.String(), isSMTP: true}
	}
	return nil
}

func (s *session) auth(a *Auth) error {
	mech, ir, err := sasl.NewPlainClient("", a.Username, a.Password).Start()
	if err != nil {
		return err
	}
	r, err := s.cmd("AUTH %s %s", mech, encodeBase64(ir))
	if err != nil {
		return err
	}
	if r.code != 235 {
		// A refused login is the operator's to fix; keep the mail queued meanwhile.
		return &errNextHop{status: "4.7.8", reply: "AUTH: " + r.String(), isSMTP: true}
	}
	return nil
}

// transaction runs MAIL, RCPT and DATA and returns every recipient's outcome.
func (s *session) transaction(ctx context.Context, m *Message) []Result {
	fail := func(o Outcome, status, text string) []Result {
		return all(m.To, o, status, s.host, text, false)
	}
	if m.NeedsUTF8 {
		if _, ok := s.ext["SMTPUTF8"]; !ok {
			return fail(Failed, "5.6.7", s.host+" does not support SMTPUTF8, which this message needs")
		}
	}
	_, has8 := s.ext["8BITMIME"]
	if m.Needs8Bit && !has8 {
		return fail(Failed, "5.6.3", s.host+" does not support 8BITMIME, which this message needs")
	}
	params := ""
	if sz, ok := s.ext["SIZE"]; ok {
		if limit, err := strconv.ParseInt(strings.TrimSpace(sz), 10, 64); err == nil && limit > 0 && m.Size > limit {
			return fail(Failed, "5.3.4", fmt.Sprintf("message of %d bytes is larger than %s's limit of %d", m.Size, s.host, limit))
		}
		params += fmt.Sprintf(" SIZE=%d", m.Size)
	}
	if m.Needs8Bit {
		params += " BODY=8BITMIME"
	}
	if m.NeedsUTF8 {
		params += " SMTPUTF8"
	}
	_, pipelining := s.ext["PIPELINING"]

	results := make([]Result, len(m.To))
	lost := func(err error) []Result {
		text := s.describe(ctx, err)
		for i := range results {
			if results[i].Rcpt == "" {
				results[i] = Result{Rcpt: m.To[i], Outcome: Deferred, Status: "4.4.2", MTA: s.host, Reply: text}
			}
		}
		return results
	}
	fromReply := func(rcpt string, r reply) Result {
		o := Deferred
		if r.code >= 500 {
			o = Failed
		}
		return Result{Rcpt: rcpt, Outcome: o, Status: r.status(), MTA: s.host, Reply: r.String(), SMTP: true}
	}

	// MAIL and the RCPTs go in one write when the peer pipelines (RFC 2920).
	s.write("MAIL FROM:<%s>%s", m.From, params)
	if pipelining {
		for _, rc := range m.To {
			s.write("RCPT TO:<%s>", rc)
		}
	}
	if err := s.flush(); err != nil {
		return lost(err)
	}
	mr, err := s.readReply(s.c.opts.CommandTimeout)
	if err != nil {
		return lost(err)
	}
	if mr.code != 250 {
		if pipelining {
			for range m.To {
				if _, err := s.readReply(s.c.opts.CommandTimeout); err != nil {
					break
				}
			}
		}
		for i, rc := range m.To {
			results[i] = fromReply(rc, mr)
		}
		return results
	}
	var accepted []int
	var rejected []Result
	for i, rc := range m.To {
		var r reply
		if pipelining {
			r, err = s.readReply(s.c.opts.CommandTimeout)
		} else {
			r, err = s.cmd("RCPT TO:<%s>", rc)
		}
		if err != nil {
			return lost(err)
		}
		if r.code == 250 || r.code == 251 {
			accepted = append(accepted, i)
			continue
		}
		results[i] = fromReply(rc, r)
		rejected = append(rejected, results[i])
	}
	if len(rejected) > 0 && m.Progress != nil {
		m.Progress(rejected)
	}
	if len(accepted) == 0 {
		return results
	}
	dr, err := s.cmd("DATA")
	if err != nil {
		return lost(err)
	}
	if dr.code != 354 {
		return s.settle(m, results, accepted, func(rc string) Result { return fromReply(rc, dr) })
	}
	if err := s.sendBody(m); err != nil {
		return lost(err)
	}
	// The peer's reply to the final dot is the moment responsibility passes. If the
	// connection fails before that reply arrives, the peer may have taken the message anyway
	// and the retry can duplicate it (RFC 5321 §4.5.4.1 accepts this over losing mail).
	fr, err := s.readReply(s.c.opts.DataTimeout)
	if err != nil {
		return lost(err)
	}
	return s.settle(m, results, accepted, func(rc string) Result {
		if fr.code == 250 {
			return Result{Rcpt: rc, Outcome: Delivered, Status: fr.status(), MTA: s.host, Reply: fr.String(), SMTP: true}
		}
		return fromReply(rc, fr)
	})
}

func (s *session) settle(m *Message, results []Result, accepted []int, f func(string) Result) []Result {
	done := make([]Result, 0, len(accepted))
	for _, i := range accepted {
		results[i] = f(m.To[i])
		done = append(done, results[i])
	}
	if m.Progress != nil {
		m.Progress(done)
	}
	return results
}

// sendBody writes the content through a dataWriter (CRLF line ends, dots stuffed), then the
// final dot.
func (s *session) sendBody(m *Message) error {
	rc, err := m.Open()
	if err != nil {
		return fmt.Errorf("reading the spooled message: %w", err)
	}
	defer rc.Close()
	dw := newDataWriter(s.bw)
	w := &deadlineWriter{conn: s.conn, w: dw, timeout: s.c.opts.CommandTimeout}
	if _, err := io.Copy(w, rc); err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	return s.flush()
}

// deadlineWriter renews the write deadline before each write, so a slow but moving peer is
// not cut off while a stalled one is.
type deadlineWriter struct {
	conn    net.Conn
	w       io.Writer
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.w.Write(p)
}

func (s *session) quit() {
	s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.cmd("QUIT"); err != nil {
		return
	}
}

func encodeBase64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}
