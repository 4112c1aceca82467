package smtpserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
)

// processTimeout bounds the work after the final dot: policy, crypto and the durable commit.
const processTimeout = 2 * time.Minute

// session holds one connection's policy state: who the client is, whether it logged in, and
// the envelope of the current transaction. The protocol engine (conn.go) calls it for every
// decision and sends the reply it returns.
type session struct {
	srv      *Server
	remoteIP netip.Addr
	connID   string
	helo     string
	tls      bool
	user     *mailstore.User

	txID    string
	from    string
	utf8    bool
	rcpts   []pipeline.Recipient
	started time.Time

	// Gateway mode: the client is in a trusted network; and, for the current transaction,
	// it sends as one of our senders (see trustedSender).
	trustedClient bool
	fromTrusted   bool
}

// mailParams are the MAIL FROM parameters the session decides on.
type mailParams struct {
	size int64 // SIZE=, 0 when absent
	utf8 bool  // SMTPUTF8
}

func newSession(s *Server, remote net.Addr) *session {
	ip := netip.Addr{}
	if ap, err := netip.ParseAddrPort(remote.String()); err == nil {
		ip = ap.Addr().Unmap()
	}
	return &session{srv: s, remoteIP: ip, connID: pipeline.NewID(), trustedClient: s.trusted(ip)}
}

func (s *session) authAllowed() bool {
	if s.srv.opts.Role != pipeline.RoleSubmission {
		return false
	}
	return s.tls || (s.srv.opts.PlaintextAuthOnLoopback && s.remoteIP.IsLoopback())
}

func (s *session) authMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// auth returns the SASL server for mech (upper case), or the reply that refuses it.
func (s *session) auth(mech string) (sasl.Server, *reply) {
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
			s.logLogin(username, err)
			s.srv.metrics.authFailed()
			return authReply(s.srv.log, s.connID, err)
		}
		s.user = &u
		s.logLogin(u.Address, nil)
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
	return nil, replyAuthMechanism
}

// mail decides on MAIL FROM; from is "" for the null sender.
func (s *session) mail(from string, p mailParams) *reply {
	sub := s.srv.opts.Role == pipeline.RoleSubmission
	if sub && s.user == nil {
		return replyAuthRequired
	}
	if p.size > s.srv.opts.MaxMessageSize {
		s.srv.metrics.rejected("552")
		s.logRefused("sender", from, "", replyTooBig)
		return replyTooBig
	}
	if from == "" {
		if sub {
			return replyNullSender
		}
	} else {
		a, err := address.Parse(from)
		if err != nil {
			return replyBadSender
		}
		if !p.utf8 && !isASCII(from) {
			return replyNeedUTF8
		}
		if sub && !auth.Owns(*s.user, a, s.srv.subaddressing()) {
			s.logRefused("sender", from, "", replySenderNotOwned)
			return replySenderNotOwned
		}
		from = a.String()
	}
	s.txID = pipeline.NewID()
	s.from, s.utf8, s.rcpts, s.started = from, p.utf8, nil, time.Now()
	s.fromTrusted = s.trustedSender(from)
	return nil
}

// rcpt decides on RCPT TO.
func (s *session) rcpt(to string) *reply {
	a, err := address.Parse(to)
	if err != nil {
		return replyBadRcpt
	}
	if !s.utf8 && !isASCII(to) {
		return replyNeedUTF8
	}
	switch s.srv.classify(a) {
	case rcptRelay:
		return s.relayRcpt(a)
	case rcptLocal:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rcpts, err := s.srv.resolve(ctx, a, s.from)
		switch {
		case errors.Is(err, addressing.ErrUnknown):
			s.srv.metrics.rejected("550")
			s.logRefused("recipient", s.from, a.String(), replyUnknownUser)
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
		if s.mailboxesFull(ctx, rcpts) {
			s.srv.metrics.rejected("452")
			s.logRefused("recipient", s.from, a.String(), replyMailboxFull)
			return replyMailboxFull
		}
		s.rcpts = append(s.rcpts, rcpts...)
		return nil
	}
	// Not ours: only an authenticated user of the submission service, or the organisation's
	// own server for its senders, may relay.
	if !s.mayRelay() {
		s.logRefused("recipient", s.from, a.String(), replyRelayDenied)
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

// mailboxesFull reports whether every target an address resolved to is a local account at
// or past its storage limit. An alias with some room among its targets is accepted: the
// store refuses the full ones at DATA and their sender is notified. A failed look-up accepts.
func (s *session) mailboxesFull(ctx context.Context, rcpts []pipeline.Recipient) bool {
	if s.srv.opts.Quotas == nil || len(rcpts) == 0 {
		return false
	}
	for _, r := range rcpts {
		if r.UserID == 0 {
			return false
		}
		q, err := s.srv.opts.Quotas.Quota(ctx, r.UserID)
		if err != nil {
			s.srv.log.Error("quota lookup failed", "conn", s.connID, "err", err)
			return false
		}
		if !q.Over() {
			return false
		}
	}
	return true
}

// newMessage returns the buffer that DATA or BDAT fill with the message.
func (s *session) newMessage() *msgbuf.Buffer {
	return msgbuf.New(msgbuf.Options{Dir: s.srv.opts.SpoolDir, MaxSize: s.srv.opts.MaxMessageSize})
}

// refuse is the reply to a message that could not be received whole (err from the buffer).
func (s *session) refuse(err error) *reply {
	if errors.Is(err, msgbuf.ErrTooLarge) {
		s.srv.metrics.rejected("552")
	}
	r := dataReply(s.srv.log, s.txID, err)
	s.logMessage(r, -1, mailstore.Delivered{})
	return r
}

// deliver hands a received message to the pipeline; 250 means every copy is durable.
func (s *session) deliver(buf *msgbuf.Buffer) *reply {
	env := &pipeline.Envelope{
		ID:       s.txID,
		Role:     s.srv.opts.Role,
		RemoteIP: s.remoteIP,
		Helo:     s.helo,
		TLS:      s.tls,
		UTF8:     s.utf8,
		AuthUser: s.user,

		TrustedClient: s.trustedClient,
		TrustedSender: s.fromTrusted,
		MailFrom:      s.from,
		Recipients:    s.rcpts,
		ReceivedAt:    time.Now(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	d, err := s.srv.opts.Pipeline.Process(ctx, env, buf)
	r := dataReply(s.srv.log, s.txID, err)
	s.logMessage(r, buf.Size(), d)
	s.srv.metrics.data(r.code, buf.Size(), time.Since(s.started))
	return r
}

// reset ends the transaction.
func (s *session) reset() {
	s.from, s.utf8, s.rcpts, s.txID, s.fromTrusted = "", false, nil, "", false
}

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
