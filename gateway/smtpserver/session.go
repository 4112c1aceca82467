package smtpserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// processTimeout bounds the work after the final dot: policy, crypto and the durable commit.
const processTimeout = 2 * time.Minute

type session struct {
	srv      *Server
	conn     *smtp.Conn
	remoteIP netip.Addr
	connID   string
	user     *mailstore.User

	txID    string
	from    string
	utf8    bool
	rcpts   []pipeline.Recipient
	started time.Time
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	ip := netip.Addr{}
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		ip = ap.Addr().Unmap()
	}
	s.metrics.session()
	return &session{srv: s, conn: c, remoteIP: ip, connID: pipeline.NewID()}, nil
}

func (s *session) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *session) authAllowed() bool {
	if s.srv.opts.Role != pipeline.RoleSubmission {
		return false
	}
	return s.isTLS() || (s.srv.opts.PlaintextAuthOnLoopback && s.remoteIP.IsLoopback())
}

func (s *session) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.srv.opts.Role != pipeline.RoleSubmission {
		return nil, replyNoAuthHere
	}
	if !s.authAllowed() {
		return nil, replyNeedTLS
	}
	check := func(username, password string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		u, err := s.srv.opts.Auth.Authenticate(ctx, username, password, s.remoteIP)
		if err != nil {
			s.srv.log.Info("smtp auth failed", "conn", s.connID, "client", s.remoteIP, "reason", err)
			s.srv.metrics.authFailed()
			return authReply(s.srv.log, s.connID, err)
		}
		s.user = &u
		s.srv.log.Info("smtp auth", "conn", s.connID, "client", s.remoteIP, "user", u.Address)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return replyAuthIdentity
			}
			return check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	sub := s.srv.opts.Role == pipeline.RoleSubmission
	if sub && s.user == nil {
		return replyAuthRequired
	}
	if opts != nil && opts.Size > s.srv.opts.MaxMessageSize {
		return replyTooBig
	}
	utf8 := opts != nil && opts.UTF8
	if from == "" {
		if sub {
			return replyNullSender
		}
	} else {
		a, err := address.Parse(from)
		if err != nil {
			return replyBadSender
		}
		if !utf8 && !isASCII(from) {
			return replyNeedUTF8
		}
		if sub && !auth.Owns(*s.user, a) {
			return replySenderNotOwned
		}
		from = a.String()
	}
	s.txID = pipeline.NewID()
	s.from, s.utf8, s.rcpts, s.started = from, utf8, nil, time.Now()
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	a, err := address.Parse(to)
	if err != nil {
		return replyBadRcpt
	}
	if !s.utf8 && !isASCII(to) {
		return replyNeedUTF8
	}
	if !a.IsLiteral() && s.srv.opts.IsLocalDomain(a.Domain) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rcpts, err := s.srv.resolve(ctx, a, s.from)
		switch {
		case errors.Is(err, addressing.ErrUnknown):
			s.srv.metrics.rejected("550")
			return replyUnknownUser
		case errors.Is(err, addressing.ErrLoop):
			s.srv.log.Warn("alias loop", "conn", s.connID, "err", err)
			return replyAliasLoop
		case err != nil:
			s.srv.log.Error("recipient lookup failed", "conn", s.connID, "err", err)
			return replyTemporary(s.connID)
		}
		if len(s.rcpts)+len(rcpts) > s.srv.opts.MaxRecipients*2 {
			return replyTooManyTargets
		}
		s.rcpts = append(s.rcpts, rcpts...)
		return nil
	}
	// Not ours: only an authenticated user of the submission service may relay.
	if s.srv.opts.Role != pipeline.RoleSubmission || s.user == nil {
		s.srv.log.Info("relay denied", "conn", s.connID, "client", s.remoteIP, "rcpt_domain", a.Domain)
		s.srv.metrics.rejected("554")
		return replyRelayDenied
	}
	for _, r := range s.rcpts {
		if r.UserID == 0 && r.Address.Key() == a.Key() {
			return nil
		}
	}
	s.rcpts = append(s.rcpts, pipeline.Recipient{Address: a})
	return nil
}

func (s *session) Data(r io.Reader) error {
	buf := msgbuf.New(msgbuf.Options{Dir: s.srv.opts.SpoolDir, MaxSize: s.srv.opts.MaxMessageSize})
	defer buf.Discard()
	_, err := buf.ReadFrom(r)
	if err == nil {
		err = buf.Finish()
	}
	if err != nil {
		// Drain what the client still sends so the reply lands after its final dot.
		io.Copy(io.Discard, r)
		var se *smtp.SMTPError
		if errors.As(err, &se) || errors.Is(err, msgbuf.ErrTooLarge) {
			s.srv.metrics.rejected("552")
			return dataReply(s.srv.log, s.txID, err)
		}
		var ne net.Error
		if errors.As(err, &ne) {
			return err // the connection is gone; nothing to answer
		}
		return dataReply(s.srv.log, s.txID, err)
	}
	env := &pipeline.Envelope{
		ID:         s.txID,
		Role:       s.srv.opts.Role,
		RemoteIP:   s.remoteIP,
		Helo:       s.conn.Hostname(),
		TLS:        s.isTLS(),
		UTF8:       s.utf8,
		AuthUser:   s.user,
		MailFrom:   s.from,
		Recipients: s.rcpts,
		ReceivedAt: time.Now(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	_, err = s.srv.opts.Pipeline.Process(ctx, env, buf)
	reply := dataReply(s.srv.log, s.txID, err)
	s.srv.metrics.data(reply.Code, buf.Size(), time.Since(s.started))
	return reply
}

func (s *session) Reset() {
	s.from, s.utf8, s.rcpts, s.txID = "", false, nil, ""
}

func (s *session) Logout() error { return nil }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// loginServer is the server side of the LOGIN SASL mechanism (draft-murchison-sasl-login),
// which go-sasl provides only as a client. Outlook and older clients still use it.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) > 0 { // initial response carries the user name
			l.username = string(response)
			l.step = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}
