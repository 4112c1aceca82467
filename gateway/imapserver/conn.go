package imapserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
)

// connState is where a session is in RFC 9051's state diagram (§3).
type connState int

const (
	stateNotAuthenticated connState = iota
	stateAuthenticated
	stateSelected
	stateLogout
)

// command is one client command on its way through the engine.
type command struct {
	tag, name string
	kind      numKind // UID commands: numUID
	// okCode and okText replace the tagged OK's response code and text.
	okCode, okText string
	// noPoll skips the untagged updates before the tagged OK (LOGOUT, commands that end in
	// their own responses).
	noPoll bool
	// handled: the handler wrote the tagged response itself (AUTHENTICATE's CAPABILITY OK).
	handled bool
}

// serve runs one connection (TLS already on an implicit-TLS listener) until the client logs
// out, the connection fails or the server shuts down.
func (srv *Server) serve(c net.Conn) {
	wire := &idleConn{Conn: c}
	s := &session{srv: srv, wire: wire, id: newRef(), tls: srv.opts.ImplicitTLS}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		s.client = ap.Addr().Unmap()
	}
	s.loopback = s.client.IsLoopback()
	s.setConn(wire)
	if !srv.track(s) {
		c.Close()
		return
	}
	defer srv.untrack(s)
	defer c.Close()
	s.enc.Status("*", "OK", "CAPABILITY "+s.capabilities(), "Sealgate IMAP ready")
	if s.enc.Flush() != nil {
		return
	}
	for s.state != stateLogout {
		if !s.command() {
			return
		}
	}
}

// setConn makes the session read and write c (after STARTTLS, the TLS connection).
func (s *session) setConn(c net.Conn) {
	s.nc = c
	if s.enc == nil {
		s.enc = imapwire.NewEncoder(c)
		s.dec = imapwire.NewDecoder(c, imapwire.Options{MaxSkip: s.srv.opts.MaxMessageSize, Continue: s.continueLiteral})
		return
	}
	s.enc.Reset(c)
	s.dec.Reset(c)
}

// continueLiteral asks the client for a synchronizing literal the command takes.
func (s *session) continueLiteral() error {
	s.enc.Continue("Ready for literal data")
	return s.enc.Flush()
}

// readTimeout bounds the wait for the client's next bytes.
func (s *session) readTimeout() {
	s.nc.SetReadDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
}

// command reads and runs one command; false ends the connection.
func (s *session) command() (ok bool) {
	s.readTimeout()
	cmd := &command{}
	var err error
	cmd.tag, cmd.name, err = s.dec.ReadCommandName()
	if err == nil {
		err = s.run(cmd)
	}
	return s.finish(cmd, err)
}

// run dispatches cmd, recovering a panic: the client is told goodbye, the panic counted, and
// the connection closed.
func (s *session) run(cmd *command) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.srv.ln.Panicked(fmt.Sprintf("IMAP %s: %v", cmd.name, v))
			s.enc.Status("*", "BYE", "SERVERBUG", "Internal error")
			s.enc.Flush()
			err = errSessionOver
		}
	}()
	return s.dispatch(cmd)
}

// errSessionOver ends the session without a further response.
var errSessionOver = errors.New("imapserver: session over")

// finish answers cmd: OK after the untagged updates, the *imap.Error that fail makes of any
// other error, BAD for a command the server cannot parse (its rest dropped). It reports
// whether the session goes on.
func (s *session) finish(cmd *command, err error) bool {
	defer func() {
		s.readModSeq = 0
		if s.enc.Err() == nil {
			s.enc.Flush()
		}
	}()
	if errors.Is(err, errSessionOver) || s.enc.Err() != nil {
		return false
	}
	if derr := s.dec.Err(); derr != nil {
		if errors.Is(derr, imapwire.ErrLiteralTooLarge) {
			s.enc.Status("*", "BYE", "", "Literal too large")
		}
		return false
	}
	tag := cmd.tag
	if tag == "" {
		tag = "*"
	}
	var ce *imapwire.CommandError
	switch {
	case err == nil:
		if cmd.handled {
			return true
		}
		if !cmd.noPoll && s.state != stateNotAuthenticated {
			if perr := s.poll(cmd); perr != nil {
				return s.finish(cmd, perr)
			}
		}
		text := cmd.okText
		if text == "" {
			text = cmd.name + " completed"
		}
		s.enc.Status(tag, "OK", cmd.okCode, text)
	case errors.As(err, &ce):
		if ce.TooBig {
			s.enc.Status(tag, "NO", "TOOBIG", ce.Msg)
		} else {
			s.enc.Status(tag, "BAD", "CLIENTBUG", "Syntax error: "+ce.Msg)
		}
	case errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return false
	default:
		ie := s.fail(err).(*imap.Error)
		s.enc.Status(tag, string(ie.Type), string(ie.Code), ie.Text)
		if ie.Type == imap.StatusResponseTypeBye {
			return false
		}
	}
	if err != nil {
		if derr := s.dec.Discard(); derr != nil {
			if errors.Is(derr, imapwire.ErrLiteralTooLarge) {
				s.enc.Status("*", "BYE", "", "Literal too large")
			}
			return false
		}
	}
	return s.enc.Err() == nil
}

// poll brings the client up to date before a command's tagged OK. FETCH, STORE and SEARCH
// by sequence number must not be followed by an EXPUNGE (RFC 9051 §7.5.1).
func (s *session) poll(cmd *command) error {
	allowExpunge := true
	switch cmd.name {
	case "FETCH", "STORE", "SEARCH", "SORT", "THREAD":
		allowExpunge = false
	}
	return s.Poll(allowExpunge)
}

// canAuth reports whether LOGIN and AUTHENTICATE may be used on this connection.
func (s *session) canAuth() bool {
	return s.tls || s.srv.opts.PlaintextAuthOnLoopback && s.loopback
}

// canStartTLS reports whether STARTTLS is offered.
func (s *session) canStartTLS() bool {
	return !s.tls && s.srv.opts.TLSConfig != nil && s.state == stateNotAuthenticated
}

// capabilities lists what the server offers in the session's state.
func (s *session) capabilities() string {
	caps := []string{"IMAP4rev2", "IMAP4rev1", "SASL-IR", "LITERAL+", "LITERAL-", "ID"}
	if s.canStartTLS() {
		caps = append(caps, "STARTTLS")
	}
	if s.state == stateNotAuthenticated {
		if s.canAuth() {
			caps = append(caps, "AUTH=PLAIN")
		} else {
			caps = append(caps, "LOGINDISABLED")
		}
		return strings.Join(caps, " ")
	}
	caps = append(caps, "NAMESPACE", "UIDPLUS", "ESEARCH", "LIST-EXTENDED", "LIST-STATUS", "MOVE",
		"STATUS=SIZE", "BINARY", "CHILDREN", "SPECIAL-USE", "UNSELECT", "ENABLE", "IDLE",
		fmt.Sprintf("APPENDLIMIT=%d", s.srv.opts.MaxMessageSize), quotaCaps, sortCaps, modSeqCaps)
	caps = append(caps, "MULTIAPPEND", "SEARCHRES", "WITHIN", "COMPRESS=DEFLATE", "CATENATE")
	return strings.Join(caps, " ")
}

// startTLS answers STARTTLS and makes the connection TLS. Bytes the client pipelined after
// the command were sent in the clear and are dropped (RFC 9051 §6.2.1).
func (s *session) startTLS(cmd *command) error {
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if !s.canStartTLS() {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "STARTTLS not available"}
	}
	s.enc.Status(cmd.tag, "OK", "", "Begin TLS negotiation now")
	if err := s.enc.Flush(); err != nil {
		return err
	}
	cmd.handled = true
	tc := tls.Server(s.wire, s.srv.opts.TLSConfig)
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err != nil {
		return errSessionOver
	}
	tc.SetDeadline(time.Time{})
	s.tls = true
	s.setConn(tc) // drops what was read past STARTTLS
	return nil
}

// idle runs IDLE (RFC 9051 §6.3.13): updates as they happen until the client sends DONE.
func (s *session) idle(cmd *command) error {
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	s.enc.Continue("idling")
	if err := s.enc.Flush(); err != nil {
		return err
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.srv.ln.Panicked(fmt.Sprintf("IMAP IDLE: %v", v))
				s.nc.Close()
				done <- errSessionOver
			}
		}()
		done <- s.Idle(stop)
	}()
	s.readTimeout()
	line, err := s.dec.ReadLine()
	close(stop)
	ierr := <-done
	if err != nil {
		if imapwire.IsCommandError(err) {
			return err
		}
		return errSessionOver
	}
	if ierr != nil {
		return ierr
	}
	if !strings.EqualFold(line, "DONE") {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "Expected DONE to end IDLE"}
	}
	cmd.noPoll = true
	return nil
}
