package imapserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// opTimeout bounds one command's store work.
const opTimeout = 2 * time.Minute

// session is one IMAP connection. The engine (conn.go) runs its commands one at a time;
// IDLE's goroutine runs while the connection waits for DONE, never beside another command.
type session struct {
	srv      *Server
	wire     *idleConn // the accepted connection
	nc       net.Conn  // what the session reads and writes: wire, or TLS over it
	dec      *imapwire.Decoder
	enc      *imapwire.Encoder
	state    connState
	tls      bool // the connection is TLS (implicit or after STARTTLS)
	loopback bool
	rev2     bool // the client ENABLEd IMAP4rev2
	client   netip.Addr
	user     *mailstore.User
	sel      *selected
	id       string // names the session in the log

	// condstore and qresync: the client turned on CONDSTORE or QRESYNC (condstore.go).
	condstore, qresync bool

	// readModSeq is the selected mailbox's HIGHESTMODSEQ as the running command read it with
	// the messages it answered for, when it changed nothing itself (0 otherwise): the poll
	// that ends the command takes it instead of reading it again. finish clears it.
	readModSeq uint64
}

// cork gathers the responses of a long command into large writes; the returned function
// writes them out.
func (s *session) cork() func() {
	s.wire.cork()
	return func() { s.wire.uncork() }
}

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// fail is the one place errors become IMAP responses: *imap.Error goes out as it is, the
// store's and auth's sentinel errors get their response codes, anything else is logged with
// a reference and answered generically.
func (s *session) fail(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	switch {
	case errors.As(err, &ie):
		return ie
	case errors.Is(err, net.ErrClosed):
		return err
	}
	for _, f := range failures {
		if errors.Is(err, f.err) {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: f.code, Text: f.text}
		}
	}
	ref := newRef()
	log := s.srv.log.With("ref", ref, "client", s.client.String())
	if s.user != nil {
		log = log.With("user", s.user.Address)
	}
	log.Error("imap command failed", "err", err)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "Internal error (ref " + ref + ")"}
}

// failures are the NO responses of the store's and auth's sentinel errors.
var failures = [...]struct {
	err  error
	code imap.ResponseCode
	text string
}{
	{mailstore.ErrNotFound, imap.ResponseCodeNonExistent, "No such mailbox"},
	{mailstore.ErrExists, imap.ResponseCodeAlreadyExists, "Mailbox already exists"},
	{mailstore.ErrInvalidName, imap.ResponseCodeCannot, "Invalid mailbox name"},
	// RFC 9208 §5: the client learns why, and that retrying will not help.
	{mailstore.ErrOverQuota, "OVERQUOTA", "Over the account's storage quota"},
	{mailstore.ErrInboxDelete, imap.ResponseCodeCannot, "INBOX cannot be deleted"},
	{auth.ErrInvalidCredentials, imap.ResponseCodeAuthenticationFailed, "Authentication failed"},
	// Not AUTHENTICATIONFAILED: clients take that as a wrong password and ask for another.
	{auth.ErrThrottled, imap.ResponseCodeUnavailable, "Too many failed logins from your network, try again later"},
	// A command whose store work ran past its time (opTimeout): the store is busy, not broken.
	{context.DeadlineExceeded, imap.ResponseCodeUnavailable, "The command took too long, try again later"},
}

func newRef() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *session) Login(username, password string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	u, err := s.srv.opts.Auth.Authenticate(ctx, username, password, s.client)
	if err != nil {
		s.srv.log.Info("login", "protocol", "imap", "session", s.id, "client", s.client, "user", username, "result", "failed", "reason", err.Error())
		return s.fail(err)
	}
	s.user = &u
	s.srv.log.Info("login", "protocol", "imap", "session", s.id, "client", s.client, "user", u.Address, "result", "ok")
	return nil
}

func (s *session) AppendLimit() uint32 { return uint32(s.srv.opts.MaxMessageSize) }

// changed wakes this user's other sessions after a change.
func (s *session) changed() { s.srv.opts.Notifier.Changed(s.user.ID) }

// Idle reports changes of the selected mailbox as they happen: at once for what this process
// notices (deliveries, other sessions), within PollInterval for other processes.
func (s *session) Idle(stop <-chan struct{}) error {
	wake, cancel := s.srv.opts.Notifier.subscribe(s.user.ID)
	defer cancel()
	t := time.NewTicker(s.srv.opts.PollInterval)
	defer t.Stop()
	for {
		if err := s.Poll(true); err != nil {
			return err
		}
		if err := s.enc.Flush(); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}
