package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// maxLine bounds a command line. RFC 2449 allows 255 octets; SASL responses may be longer.
const maxLine = 1024

// maxBadCommands closes a session that keeps sending what it should not.
const maxBadCommands = 20

type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

type message struct {
	mailstore.MaildropMessage
	index     int // in session.msgs
	deleted   bool
	retrieved bool
}

type session struct {
	srv      *Server
	conn     net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	id       string
	remoteIP netip.Addr
	isTLS    bool

	state    state
	userName string // from USER
	user     *mailstore.User
	mode     Mode
	drop     mailstore.Maildrop
	msgs     []message
	failed   int
	bad      int
	quit     bool
	msgBuf   *bufio.Reader // reused for every message sent (sendMessage)
	// ahead holds small bodies read ahead for pipelined RETRs, by body id; each leaves when
	// it is sent.
	ahead map[int64][]byte
	// release gives up the maildrop lock taken at login; nil before.
	release func()
}

func newSession(s *Server, c net.Conn) *session {
	ip := netip.Addr{}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		ip = ap.Addr().Unmap()
	}
	_, isTLS := c.(*tls.Conn)
	return &session{srv: s, conn: c, id: envelope.NewID(), remoteIP: ip, isTLS: isTLS,
		r: bufio.NewReaderSize(c, 4096), w: bufio.NewWriterSize(c, 32<<10)}
}

func (s *session) run() {
	defer func() {
		if s.release != nil {
			s.release()
		}
	}()
	if tc, ok := s.conn.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			return
		}
	}
	s.reply("+OK %s Sealgate POP3 server ready", s.srv.opts.Hostname)
	for !s.quit {
		if err := s.flushIfIdle(); err != nil {
			return
		}
		s.conn.SetReadDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
		line, err := s.readLine()
		if errors.Is(err, errLineTooLong) {
			s.reply("-ERR Command line too long")
			s.flush()
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.reply("-ERR [SYS/TEMP] Idle timeout, closing connection")
				s.flush()
			}
			return
		}
		s.handle(line)
		if s.bad >= maxBadCommands {
			s.reply("-ERR Too many errors, closing connection")
			break
		}
	}
	s.flush()
}

var errLineTooLong = errors.New("line too long")

func (s *session) readLine() (string, error) {
	var line []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return "", err
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return "", errLineTooLong
		}
		if !isPrefix {
			return string(line), nil
		}
	}
}

// flushIfIdle sends buffered replies unless the client has already sent the next command:
// pipelined commands get their replies in as few packets as possible.
func (s *session) flushIfIdle() error {
	if s.r.Buffered() > 0 {
		return nil
	}
	return s.flush()
}

// flush sends buffered replies, giving a slow client the idle timeout to take them.
func (s *session) flush() error {
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
	return s.w.Flush()
}

func (s *session) reply(format string, args ...any) {
	fmt.Fprintf(s.w, format, args...)
	s.w.WriteString("\r\n")
}

func (s *session) plaintextAllowed() bool {
	return s.isTLS || (s.srv.opts.PlaintextAuthOnLoopback && s.remoteIP.IsLoopback())
}

func (s *session) handle(line string) {
	cmd, arg, _ := strings.Cut(line, " ")
	cmd = strings.ToUpper(cmd)
	if s.state == stateAuthorization {
		switch cmd {
		case "CAPA":
			s.capa()
		case "USER":
			s.cmdUser(arg)
		case "PASS":
			s.cmdPass(arg)
		case "AUTH":
			s.cmdAuth(arg)
		case "STLS":
			s.cmdSTLS()
		case "APOP":
			s.bad++
			s.reply("-ERR APOP is not enabled")
		case "QUIT":
			s.reply("+OK %s Sealgate POP3 server signing off", s.srv.opts.Hostname)
			s.quit = true
		default:
			s.bad++
			s.reply("-ERR Unknown command or not allowed before login")
		}
		return
	}
	switch cmd {
	case "CAPA":
		s.capa()
	case "STAT":
		n, size := 0, int64(0)
		for _, m := range s.msgs {
			if !m.deleted {
				n++
				size += m.Size
			}
		}
		s.reply("+OK %d %d", n, size)
	case "LIST":
		s.scanListing(arg, "scan listing", func(i int, m *message) string { return strconv.FormatInt(m.Size, 10) })
	case "UIDL":
		s.scanListing(arg, "unique-id listing", func(i int, m *message) string {
			return fmt.Sprintf("%d.%d", s.drop.UIDValidity, m.UID)
		})
	case "RETR":
		s.cmdRetr(arg)
	case "TOP":
		s.cmdTop(arg)
	case "DELE":
		m, ok := s.message(arg)
		if !ok {
			return
		}
		m.deleted = true
		s.reply("+OK message %s deleted", strings.TrimSpace(arg))
	case "NOOP":
		s.reply("+OK")
	case "RSET":
		for i := range s.msgs {
			s.msgs[i].deleted = false
		}
		s.reply("+OK maildrop has %d messages", len(s.msgs))
	case "QUIT":
		s.update()
	default:
		s.bad++
		s.reply("-ERR Unknown command")
	}
}

func (s *session) capa() {
	s.reply("+OK Capability list follows")
	for _, c := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION Sealgate"} {
		s.reply("%s", c)
	}
	if s.state == stateAuthorization {
		if s.plaintextAllowed() {
			s.reply("USER")
			s.reply("SASL PLAIN")
		}
		if !s.isTLS && s.srv.opts.TLSConfig != nil {
			s.reply("STLS")
		}
	}
	s.reply(".")
}

func (s *session) cmdSTLS() {
	if s.isTLS || s.srv.opts.TLSConfig == nil {
		s.bad++
		s.reply("-ERR TLS is not available here")
		return
	}
	if s.r.Buffered() > 0 {
		// Anything pipelined after STLS would be read as plaintext: refuse (command injection).
		s.reply("-ERR Commands sent after STLS before the TLS handshake")
		s.quit = true
		return
	}
	s.reply("+OK Begin TLS negotiation")
	if err := s.flush(); err != nil {
		s.quit = true
		return
	}
	tc := tls.Server(s.conn, s.srv.opts.TLSConfig)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.quit = true
		return
	}
	tc.SetDeadline(time.Time{})
	s.conn, s.isTLS, s.userName = tc, true, ""
	s.r.Reset(tc)
	s.w.Reset(tc)
}

func (s *session) cmdUser(arg string) {
	if !s.plaintextAllowed() {
		s.bad++
		s.reply("-ERR [AUTH] Plaintext authentication is disallowed without TLS; use STLS")
		return
	}
	if arg == "" {
		s.bad++
		s.reply("-ERR USER needs a name")
		return
	}
	s.userName = arg
	s.reply("+OK send PASS")
}

func (s *session) cmdPass(arg string) {
	if !s.plaintextAllowed() {
		s.bad++
		s.reply("-ERR [AUTH] Plaintext authentication is disallowed without TLS; use STLS")
		return
	}
	if s.userName == "" {
		s.bad++
		s.reply("-ERR USER first")
		return
	}
	name := s.userName
	s.userName = ""
	s.login(name, arg)
}

func (s *session) cmdAuth(arg string) {
	if arg == "" {
		// RFC 5034: AUTH without a mechanism lists them.
		s.reply("+OK")
		if s.plaintextAllowed() {
			s.reply("PLAIN")
		}
		s.reply(".")
		return
	}
	mech, ir, hasIR := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, sasl.Plain) {
		s.bad++
		s.reply("-ERR Unsupported authentication mechanism")
		return
	}
	if !s.plaintextAllowed() {
		s.bad++
		s.reply("-ERR [AUTH] Plaintext authentication is disallowed without TLS; use STLS")
		return
	}
	if !hasIR {
		s.reply("+ ")
		if err := s.flush(); err != nil {
			s.quit = true
			return
		}
		line, err := s.readLine()
		if err != nil {
			s.quit = true
			return
		}
		ir = line
	}
	if ir == "*" {
		s.reply("-ERR Authentication cancelled")
		return
	}
	if ir == "=" {
		ir = ""
	}
	raw, err := base64.StdEncoding.DecodeString(ir)
	if err != nil {
		s.bad++
		s.reply("-ERR Invalid base64")
		return
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || (parts[0] != "" && parts[0] != parts[1]) {
		s.failLogin()
		return
	}
	s.login(parts[1], parts[2])
}

func (s *session) login(username, password string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := s.srv.opts.Auth.Authenticate(ctx, username, password, s.remoteIP)
	if err != nil {
		s.srv.log.Info("login", "protocol", "pop3", "session", s.id, "client", s.remoteIP, "user", username, "result", "failed", "reason", err.Error())
	}
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		s.failLogin()
		return
	case errors.Is(err, auth.ErrThrottled):
		s.reply("-ERR [LOGIN-DELAY] Too many failed logins, try again later")
		s.quit = true
		return
	case err != nil:
		s.srv.log.Error("pop3 login error", "conn", s.id, "err", err)
		s.reply("-ERR [SYS/TEMP] Temporary problem, try again later (ref %s)", s.id)
		return
	}
	release, err := s.srv.opts.Store.LockMaildrop(ctx, u.ID)
	if errors.Is(err, mailstore.ErrInUse) {
		s.reply("-ERR [IN-USE] Maildrop is locked by another POP3 session")
		return
	}
	var mode Mode
	if err == nil {
		mode, err = s.srv.opts.ModeFor(ctx, u)
	}
	if err == nil {
		s.drop, err = s.srv.opts.Store.Maildrop(ctx, u.ID)
	}
	if err != nil {
		if release != nil {
			release()
		}
		s.srv.log.Error("pop3 maildrop", "conn", s.id, "err", err)
		s.reply("-ERR [SYS/TEMP] Temporary problem, try again later (ref %s)", s.id)
		return
	}
	s.user, s.mode, s.state, s.release = &u, mode, stateTransaction, release
	s.msgs = make([]message, len(s.drop.Messages))
	for i, m := range s.drop.Messages {
		s.msgs[i] = message{MaildropMessage: m, index: i}
	}
	s.srv.log.Info("login", "protocol", "pop3", "session", s.id, "client", s.remoteIP, "user", u.Address, "result", "ok", "messages", len(s.msgs), "mode", mode)
	s.reply("+OK maildrop locked and ready, %d messages", len(s.msgs))
}

func (s *session) failLogin() {
	s.failed++
	if s.failed >= s.srv.opts.MaxFailedLogins {
		s.reply("-ERR [AUTH] Authentication failed, closing connection")
		s.quit = true
		return
	}
	s.reply("-ERR [AUTH] Authentication failed")
}

// message finds a message by its number; it answers the error itself.
func (s *session) message(arg string) (*message, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(s.msgs) {
		s.bad++
		s.reply("-ERR no such message")
		return nil, false
	}
	m := &s.msgs[n-1]
	if m.deleted {
		s.reply("-ERR message %d already deleted", n)
		return nil, false
	}
	return m, true
}

func (s *session) scanListing(arg, what string, val func(int, *message) string) {
	if strings.TrimSpace(arg) != "" {
		m, ok := s.message(arg)
		if ok {
			s.reply("+OK %s %s", strings.TrimSpace(arg), val(0, m))
		}
		return
	}
	s.reply("+OK %s follows", what)
	for i := range s.msgs {
		if !s.msgs[i].deleted {
			s.reply("%d %s", i+1, val(i, &s.msgs[i]))
		}
	}
	s.reply(".")
}

func (s *session) cmdRetr(arg string) {
	m, ok := s.message(arg)
	if !ok {
		return
	}
	if s.sendMessage(m, -1) {
		m.retrieved = true
	}
}

func (s *session) cmdTop(arg string) {
	num, lines, ok := strings.Cut(strings.TrimSpace(arg), " ")
	n, err := strconv.Atoi(strings.TrimSpace(lines))
	if !ok || err != nil || n < 0 {
		s.bad++
		s.reply("-ERR usage: TOP msg n")
		return
	}
	m, found := s.message(num)
	if !found {
		return
	}
	s.sendMessage(m, n)
}

// sendMessage streams a message, dot-stuffed; bodyLines < 0 sends it whole, otherwise the
// header and that many body lines (TOP). It reports whether the whole response was sent.
func (s *session) sendMessage(m *message, bodyLines int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := s.openBody(ctx, m)
	if errors.Is(err, mailstore.ErrNotFound) {
		s.reply("-ERR [SYS/PERM] message was removed by another session")
		return false
	}
	if err != nil {
		s.srv.log.Error("pop3 read message", "conn", s.id, "err", err)
		s.reply("-ERR [SYS/TEMP] Temporary problem, try again later (ref %s)", s.id)
		return false
	}
	defer rc.Close()
	if bodyLines < 0 {
		s.reply("+OK %d octets", m.Size)
	} else {
		s.reply("+OK top of message follows")
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
	if mem, ok := rc.(*memBody); ok && bodyLines < 0 && writeStuffedCRLF(s.w, mem.data) {
		s.reply(".")
		return true
	}
	if s.msgBuf == nil {
		s.msgBuf = bufio.NewReaderSize(rc, 32<<10)
	} else {
		s.msgBuf.Reset(rc)
	}
	err = copyDotStuffed(s.w, s.msgBuf, bodyLines)
	s.msgBuf.Reset(nil)
	s.reply(".")
	if err != nil {
		// The response is cut short; the client cannot trust the rest of the session.
		s.srv.log.Error("pop3 send message", "conn", s.id, "err", err)
		s.quit = true
		return false
	}
	return true
}

// Bounds of one read-ahead batch of bodies for pipelined RETRs.
const (
	aheadMessages = 256
	aheadBytes    = 4 << 20
)

// openBody opens a message's body. When the client has already sent its next commands
// (pipelining), the small bodies of this and the following messages are read in one query
// and kept until they are sent, instead of a query per RETR; large bodies are streamed from
// the store one at a time. Bodies never change, so what is read ahead is what the snapshot
// holds; a message removed meanwhile by another session is still missing when its RETR comes.
func (s *session) openBody(ctx context.Context, m *message) (io.ReadCloser, error) {
	if data, ok := s.ahead[m.BodyID]; ok {
		delete(s.ahead, m.BodyID)
		return &memBody{Reader: bytes.NewReader(data), data: data}, nil
	}
	if m.Size <= mailstore.InlineLimit && s.r.Buffered() > 0 {
		var ids []int64
		var size int64
		for _, next := range s.msgs[m.index:] {
			if next.deleted || next.Size > mailstore.InlineLimit {
				continue
			}
			if len(ids) == aheadMessages || len(ids) > 0 && size+next.Size > aheadBytes {
				break
			}
			ids = append(ids, next.BodyID)
			size += next.Size
		}
		ahead, err := s.srv.opts.Store.MaildropBodies(ctx, ids)
		if err != nil {
			return nil, err
		}
		s.ahead = ahead
		if data, ok := s.ahead[m.BodyID]; ok {
			delete(s.ahead, m.BodyID)
			return &memBody{Reader: bytes.NewReader(data), data: data}, nil
		}
	}
	rc, _, err := s.srv.opts.Store.OpenBody(ctx, m.BodyID)
	return rc, err
}

// writeDotStuffed copies a message line by line: every line ends in CRLF (a bare LF becomes
// CRLF), a line starting with "." gets another ".", and with bodyLines >= 0 only the header
// and that many body lines are written. A final line without an end gets one.
func writeDotStuffed(w *bufio.Writer, r io.Reader, bodyLines int) error {
	return copyDotStuffed(w, bufio.NewReaderSize(r, 32<<10), bodyLines)
}

// copyDotStuffed is writeDotStuffed reading through br, which a session reuses. The header
// section ends where mimeutil says it does.
func copyDotStuffed(w *bufio.Writer, br *bufio.Reader, bodyLines int) error {
	var header mimeutil.HeaderWatcher
	n := 0
	for {
		// Each turn starts at the beginning of a line.
		line, err := br.ReadSlice('\n')
		if len(line) == 0 {
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		inBody := header.Done()
		if inBody && bodyLines >= 0 && n >= bodyLines {
			return nil
		}
		header.Write(line)
		if line[0] == '.' {
			w.WriteByte('.')
		}
		content := trimCRLF(line)
		for err == bufio.ErrBufferFull { // a line longer than the buffer: the rest as it is
			// Hold back a CR that may be the first half of the line's CRLF.
			cr := content[len(content)-1] == '\r'
			if cr {
				content = content[:len(content)-1]
			}
			w.Write(content)
			line, err = br.ReadSlice('\n')
			header.Write(line)
			content = trimCRLF(line)
			if cr && !(len(line) > 0 && line[0] == '\n') {
				w.WriteByte('\r')
			}
		}
		w.Write(content)
		w.WriteString("\r\n")
		if inBody {
			n++
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// memBody is a body read ahead into memory.
type memBody struct {
	*bytes.Reader
	data []byte
}

func (*memBody) Close() error { return nil }

// writeStuffedCRLF writes a whole message held in memory as copyDotStuffed would, in large
// pieces instead of line by line. It applies to messages whose every LF ends a CRLF (all mail
// received over SMTP) and reports false, having written nothing, for any other.
func writeStuffedCRLF(w *bufio.Writer, data []byte) bool {
	for i := 0; ; i++ {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || data[i-1] != '\r' {
			return false
		}
	}
	rest := data
	if len(rest) > 0 && rest[0] == '.' {
		w.WriteByte('.')
	}
	for {
		j := bytes.Index(rest, []byte("\n."))
		if j < 0 {
			break
		}
		w.Write(rest[:j+1])
		w.WriteByte('.')
		rest = rest[j+1:]
	}
	w.Write(rest)
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\r\n")) {
		w.WriteString("\r\n")
	}
	return true
}

func trimCRLF(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// update is the UPDATE state: apply the session's changes, then say goodbye.
func (s *session) update() {
	s.quit = true
	u := mailstore.MaildropUpdate{MailboxID: s.drop.MailboxID}
	for _, m := range s.msgs {
		if m.retrieved {
			u.Seen = append(u.Seen, m.UID)
		}
		switch {
		case m.deleted && s.mode == ModeKeep:
			u.Hide = append(u.Hide, m.UID)
		case m.deleted, m.retrieved && s.mode == ModeDelete:
			u.Expunge = append(u.Expunge, m.UID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.srv.opts.Store.UpdateMaildrop(ctx, u); err != nil {
		s.srv.log.Error("pop3 update", "conn", s.id, "err", err)
		s.reply("-ERR [SYS/TEMP] Some deleted messages were not removed (ref %s)", s.id)
		return
	}
	s.reply("+OK %s Sealgate POP3 server signing off (%d messages removed)", s.srv.opts.Hostname, len(u.Expunge))
}
