package smtpserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// maxErrors is how many protocol errors in a row end a session (421).
const maxErrors = 10

var errLineTooLong = errors.New("smtpserver: line too long")

// conn is one SMTP connection: the command loop, the protocol state, and the reply writer.
// Policy decisions are the session's; conn only enforces the protocol.
type conn struct {
	srv  *Server
	raw  net.Conn // as accepted; closing it ends the connection
	nc   net.Conn // what the session speaks over: raw, or TLS over it
	br   *bufio.Reader
	bw   *bufio.Writer
	long []byte // a command line longer than the read buffer
	sess *session

	helo   string // from HELO or EHLO; "" until then and after STARTTLS
	quit   bool   // close after flushing the replies
	errors int    // protocol errors in a row

	unknown int // unknown local recipients tried in this session

	// The mail transaction.
	mail     bool
	rcpts    int
	bdat     *msgbuf.Buffer // chunks received so far
	bdatSize int64
}

func (c *conn) serve() {
	s := c.srv
	defer c.raw.Close()
	defer func() {
		if v := recover(); v != nil {
			s.ln.Panicked(v) // logged and counted by the listener; the client hears 421
			if c.bw != nil {
				c.reply(replyInternal)
				c.flush()
			}
		}
		c.release()
	}()
	s.metrics.session()
	c.sess = newSession(s, c.raw.RemoteAddr())
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(s.opts.IdleTimeout))
		if err := tc.Handshake(); err != nil {
			s.log.Debug("tls handshake failed", "conn", c.sess.connID, "client", c.sess.remoteIP, "err", err)
			return
		}
		c.sess.tls = true
	}
	c.br = s.readers.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	c.bw = s.writers.Get().(*bufio.Writer)
	c.bw.Reset(deadlineWriter{c})

	c.reply(&reply{220, "", s.opts.Hostname + " ESMTP Sealgate"})
	for !c.quit {
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err) // sets quit unless the session can go on
			continue
		}
		c.handle(line)
	}
	c.flush()
}

// release returns the connection's buffers and drops an unfinished transaction.
func (c *conn) release() {
	c.resetTx()
	if c.br != nil {
		c.br.Reset(nil)
		c.srv.readers.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		c.srv.writers.Put(c.bw)
		c.bw = nil
	}
}

func (c *conn) handle(line []byte) {
	verb, arg := parseCommand(line)
	switch verb {
	case cmdHELO, cmdEHLO:
		c.cmdHello(verb == cmdEHLO, arg)
	case cmdMAIL:
		c.cmdMail(arg)
	case cmdRCPT:
		c.cmdRcpt(arg)
	case cmdDATA:
		c.cmdData(arg)
	case cmdBDAT:
		c.cmdBDAT(arg)
	case cmdRSET:
		c.resetTx()
		c.reply(replyReset)
	case cmdNOOP:
		c.reply(replyNoop)
	case cmdQUIT:
		c.reply(replyBye)
		c.quit = true
	case cmdVRFY:
		c.reply(replyVRFY)
	case cmdHELP:
		c.reply(replyHelp)
	case cmdAUTH:
		c.cmdAuth(arg)
	case cmdSTARTTLS:
		c.cmdStartTLS(arg)
	case cmdEXPN:
		c.protocolError(replyNotImplemented)
	default:
		c.protocolError(replyUnknownCommand)
	}
}

func (c *conn) cmdHello(ehlo bool, arg string) {
	domain, _, _ := strings.Cut(arg, " ")
	if domain == "" {
		c.protocolError(replyHeloArg)
		return
	}
	// RFC 5321 §4.1.4: a later EHLO resets the state as RSET does.
	c.resetTx()
	c.helo = domain
	c.sess.helo = domain
	opts := &c.srv.opts
	if !ehlo {
		c.reply(&reply{250, "", opts.Hostname})
		return
	}
	lines := []string{
		opts.Hostname + " Hello " + domain,
		"PIPELINING",
		"8BITMIME",
		"ENHANCEDSTATUSCODES",
		"CHUNKING",
	}
	if opts.TLSConfig != nil && !c.sess.tls {
		lines = append(lines, "STARTTLS")
	}
	if mechs := c.sess.authMechanisms(); len(mechs) > 0 {
		lines = append(lines, "AUTH "+strings.Join(mechs, " "))
	}
	lines = append(lines,
		"SMTPUTF8",
		"SIZE "+strconv.FormatInt(opts.MaxMessageSize, 10),
		"LIMITS RCPTMAX="+strconv.Itoa(opts.MaxRecipients),
	)
	c.replyLines(250, lines)
	c.errors = 0 // replyLines does not go through reply
}

func (c *conn) cmdMail(arg string) {
	switch {
	case c.helo == "":
		c.protocolError(replyHeloFirst)
		return
	case c.mail:
		c.protocolError(replyNestedMail)
		return
	}
	from, ps, ok := c.pathArg(arg, "FROM:", replyMailSyntax)
	if !ok {
		return
	}
	p, err := parseMailParams(ps)
	if err != nil {
		c.protocolError(replyBadParam)
		return
	}
	if r := c.sess.mail(from, p); r != nil {
		c.reply(r)
		return
	}
	c.mail = true
	c.reply(replyOK)
}

// pathArg reads the argument of MAIL ("FROM:", where the null path <> is allowed) or RCPT
// ("TO:"): the path and its parameters. One that does not parse is answered with syntax.
func (c *conn) pathArg(arg, prefix string, syntax *reply) (string, []param, bool) {
	rest, ok := cutPrefixFold(arg, prefix)
	if !ok {
		c.protocolError(syntax)
		return "", nil, false
	}
	path, rest, err := parsePath(rest, prefix == "FROM:")
	var ps []param
	if err == nil {
		ps, err = parseParams(rest)
	}
	if err != nil {
		c.protocolError(syntax)
		return "", nil, false
	}
	return path, ps, true
}

func (c *conn) cmdRcpt(arg string) {
	switch {
	case !c.mail:
		c.protocolError(replyNeedMail)
		return
	case c.bdat != nil:
		c.protocolError(replyBDATPending)
		return
	}
	to, ps, ok := c.pathArg(arg, "TO:", replyRcptSyntax)
	if !ok {
		return
	}
	if len(ps) > 0 {
		c.protocolError(replyBadParam)
		return
	}
	if c.rcpts >= c.srv.opts.MaxRecipients {
		c.reply(replyTooManyRcpts)
		return
	}
	if r := c.sess.rcpt(to); r != nil {
		if r == replyUnknownUser {
			r = c.unknownRecipient()
		}
		c.reply(r)
		return
	}
	c.rcpts++
	c.reply(replyOK)
}

func (c *conn) cmdData(arg string) {
	switch {
	case arg != "":
		c.protocolError(replyNoArgs)
		return
	case c.bdat != nil:
		c.protocolError(replyBDATPending)
		return
	case !c.mail:
		c.protocolError(replyNeedMail)
		return
	case c.rcpts == 0:
		c.protocolError(replyNeedRcpt)
		return
	}
	c.reply(replyStartData)
	defer c.resetTx()
	dr := newDataReader(c.br, c.waitData)
	buf := c.sess.newMessage()
	defer buf.Discard()
	_, err := buf.ReadFrom(dr)
	if err == nil {
		err = buf.Finish()
	}
	// Whatever happened to the message, the reply follows the client's end marker.
	if derr := drain(dr); derr != nil {
		c.readFailed(derr)
		return
	}
	if err != nil {
		c.reply(c.sess.refuse(err))
		return
	}
	c.reply(c.sess.deliver(buf))
}

func (c *conn) cmdBDAT(arg string) {
	size, last, err := parseBDAT(arg)
	if err != nil {
		// The chunk follows the command even when the command is refused.
		c.protocolError(replyBDATSyntax)
		c.skipChunk(size)
		return
	}
	if !c.mail || c.rcpts == 0 {
		r := replyNeedRcpt
		if !c.mail {
			r = replyNeedMail
		}
		c.protocolError(r)
		c.skipChunk(size)
		return
	}
	if c.bdatSize+size > c.srv.opts.MaxMessageSize {
		if c.skipChunk(size) {
			c.reply(c.sess.refuse(msgbuf.ErrTooLarge))
			c.resetTx()
		}
		return
	}
	if c.bdat == nil {
		c.bdat = c.sess.newMessage()
	}
	cr := &chunkReader{br: c.br, wait: c.waitData, n: size}
	_, err = c.bdat.ReadFrom(cr)
	if cr.err != nil {
		c.readFailed(cr.err)
		return
	}
	if err != nil {
		if c.skipChunk(cr.n) {
			c.reply(c.sess.refuse(err))
			c.resetTx()
		}
		return
	}
	c.bdatSize += size
	if !last {
		c.reply(&reply{250, "2.0.0", strconv.FormatInt(size, 10) + " octets received"})
		return
	}
	buf := c.bdat
	c.bdat = nil
	defer buf.Discard()
	defer c.resetTx()
	if err := buf.Finish(); err != nil {
		c.reply(c.sess.refuse(err))
		return
	}
	c.reply(c.sess.deliver(buf))
}

// skipChunk reads and discards n octets of a refused BDAT chunk; false when the connection
// failed meanwhile.
func (c *conn) skipChunk(n int64) bool {
	cr := &chunkReader{br: c.br, wait: c.waitData, n: n}
	if err := drain(cr); err != nil {
		c.readFailed(err)
		return false
	}
	return true
}

func (c *conn) cmdStartTLS(arg string) {
	switch {
	case arg != "":
		c.protocolError(replyNoArgs)
		return
	case c.sess.tls:
		c.protocolError(replyTLSActive)
		return
	case c.srv.opts.TLSConfig == nil:
		c.reply(replyTLSUnavailable)
		return
	}
	// Anything the client sent after STARTTLS was sent in plaintext and must not be taken
	// as said over TLS (CVE-2011-0411 and its kind).
	if c.br.Buffered() > 0 {
		c.br.Discard(c.br.Buffered())
		c.reply(replyTLSPipelined)
		c.quit = true
		return
	}
	c.reply(replyStartTLS)
	if err := c.flush(); err != nil {
		c.quit = true
		return
	}
	tc := tls.Server(c.nc, c.srv.opts.TLSConfig)
	tc.SetDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
	if err := tc.Handshake(); err != nil {
		c.srv.log.Debug("starttls handshake failed", "conn", c.sess.connID, "client", c.sess.remoteIP, "err", err)
		c.quit = true
		c.bw.Reset(io.Discard) // nothing more can be said in plaintext
		return
	}
	c.nc = tc
	c.br.Reset(tc)
	// RFC 3207 §4.2: the server forgets everything it learned before TLS.
	c.resetTx()
	c.helo = ""
	c.sess.helo = ""
	c.sess.user = nil
	c.sess.tls = true
	c.errors = 0
}

// resetTx ends the mail transaction, dropping any chunks received.
func (c *conn) resetTx() {
	c.mail = false
	c.rcpts = 0
	if c.bdat != nil {
		c.bdat.Discard()
		c.bdat = nil
	}
	c.bdatSize = 0
	if c.sess != nil {
		c.sess.reset()
	}
}

// readLine returns the next command line without its line ending (CRLF, or a bare LF from
// a lax client); the slice is valid until the next read. A line longer than MaxLineLength
// (counting its line ending) is read to its end and discarded: errLineTooLong.
func (c *conn) readLine() ([]byte, error) {
	if err := c.waitCommand(); err != nil {
		return nil, err
	}
	max := c.srv.opts.MaxLineLength
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		total := len(line)
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = c.br.ReadSlice('\n')
			total += len(line)
			if total <= max {
				c.long = append(c.long, line...)
			}
		}
		line = c.long
		if total > max && err == nil {
			return nil, errLineTooLong
		}
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) > max {
		return nil, errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// waitCommand runs before reading a command: unless the next command line is already
// buffered (pipelining, RFC 2920), the replies so far go out now. Then the read deadline is
// set.
func (c *conn) waitCommand() error {
	if b, _ := c.br.Peek(c.br.Buffered()); bytes.IndexByte(b, '\n') < 0 {
		if err := c.flush(); err != nil {
			return err
		}
	}
	return c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
}

// waitData runs before a read of message data may block.
func (c *conn) waitData() error {
	if err := c.flush(); err != nil {
		return err
	}
	return c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
}

// readFailed answers a failed read. A line too long is a protocol error after which the
// session goes on; any other failure ends the session, and a client that went quiet hears why.
func (c *conn) readFailed(err error) {
	if errors.Is(err, errLineTooLong) {
		c.protocolError(replyLineTooLong)
		return
	}
	c.quit = true
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.reply(replyIdle)
		return
	}
	// The connection is gone or broken; nothing more can be said.
	c.bw.Reset(io.Discard)
}

// protocolError answers a command the protocol does not allow here, and ends a session that
// makes too many such errors in a row.
func (c *conn) protocolError(r *reply) {
	c.reply(r)
	c.errors++
	if c.errors >= maxErrors {
		c.reply(replyTooManyErrors)
		c.quit = true
	}
}

// reply queues a reply; it goes out at the next flush.
func (c *conn) reply(r *reply) {
	if r.code < 400 {
		c.errors = 0
	}
	c.writeLine(r.code, ' ', r.enh, r.text)
}

// replyLines queues a multi-line reply (RFC 5321 §4.2.1) without an enhanced code.
func (c *conn) replyLines(code int, lines []string) {
	for i, l := range lines {
		sep := byte('-')
		if i == len(lines)-1 {
			sep = ' '
		}
		c.writeLine(code, sep, "", l)
	}
}

func (c *conn) writeLine(code int, sep byte, enh, text string) {
	var num [4]byte
	b := strconv.AppendInt(num[:0], int64(code), 10)
	c.bw.Write(b)
	c.bw.WriteByte(sep)
	if enh != "" {
		c.bw.WriteString(enh)
		c.bw.WriteByte(' ')
	}
	// Reply text never carries a line break, whatever it quotes.
	for {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			break
		}
		c.bw.WriteString(text[:i])
		c.bw.WriteByte(' ')
		text = text[i+1:]
	}
	c.bw.WriteString(text)
	c.bw.WriteString("\r\n")
}

func (c *conn) flush() error {
	return c.bw.Flush()
}

// deadlineWriter writes to the connection's current transport with a fresh write deadline
// for every write.
type deadlineWriter struct{ c *conn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.c.nc.SetWriteDeadline(time.Now().Add(w.c.srv.opts.IdleTimeout)); err != nil {
		return 0, err
	}
	return w.c.nc.Write(p)
}
