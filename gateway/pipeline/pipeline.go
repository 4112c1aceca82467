// Package pipeline is the one place between SMTP DATA and durable storage where a message is
// processed: every message the gateway accepts, from the MX listener, from submission, and
// later from web mail compose, goes through Process.
//
// Process, in order:
//  1. reads the header section (at most MaxHeaderSize bytes) and checks it: on submission
//     every From: address must be one the authenticated user owns;
//  2. adds what the gateway owes the message: Received: on every copy, Message-ID: and Date:
//     on submitted mail that lacks them, Return-Path: on copies for local mailboxes;
//  3. plans copies: one for all local recipients, one spool entry for all remote recipients
//     (the policy engine hooks in here and may split recipients into further copies with
//     transformed bodies);
//  4. stores every copy in one atomic, durable mailstore.Deliver.
//
// It never modifies bytes of the original message: headers are only prepended, so signatures
// over the original stay valid. Errors are ours (ErrSenderNotOwned, ErrHeaderTooLarge,
// ErrMalformedHeader) or the store's; the SMTP server translates them into replies.
package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// Errors that reject a message permanently.
var (
	ErrSenderNotOwned  = errors.New("pipeline: From: address not owned by the authenticated user")
	ErrHeaderTooLarge  = errors.New("pipeline: header section too large")
	ErrMalformedHeader = errors.New("pipeline: malformed header section")
)

// MaxHeaderSize bounds the header section the pipeline parses.
const MaxHeaderSize = 1 << 20

// Role is the listener a message arrived on.
type Role int

// Roles.
const (
	RoleMX         Role = iota // Internet-facing: local recipients only
	RoleSubmission             // own users, authenticated
)

// Recipient is a checked envelope recipient.
type Recipient struct {
	Address address.Address
	// UserID is the local account that receives the message; 0 for a remote recipient.
	UserID int64
}

// Envelope is what the SMTP transaction established about a message.
type Envelope struct {
	ID         string // transaction id: in Received: and logs
	Role       Role
	RemoteIP   netip.Addr
	Helo       string
	TLS        bool
	UTF8       bool            // SMTPUTF8 was given
	AuthUser   *mailstore.User // the authenticated account, nil on MX
	MailFrom   string          // "" for the null sender
	Recipients []Recipient
	ReceivedAt time.Time
}

// Deliverer is the store side of the pipeline.
type Deliverer interface {
	Deliver(ctx context.Context, d mailstore.Delivery) (mailstore.Delivered, error)
}

// Options configure a Pipeline.
type Options struct {
	Hostname string // this gateway's name in Received: and Message-ID:
	Store    Deliverer
	Logger   *slog.Logger // nil: slog.Default()
	Now      func() time.Time
}

// Pipeline processes accepted messages.
type Pipeline struct {
	opts Options
}

// New returns a Pipeline.
func New(opts Options) *Pipeline {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Pipeline{opts: opts}
}

// Process runs msg through the pipeline and stores it; see the package doc. When it returns
// nil every copy is durable.
func (p *Pipeline) Process(ctx context.Context, env *Envelope, msg *msgbuf.Buffer) (mailstore.Delivered, error) {
	hdr, err := readHeader(msg.NewReader())
	if err != nil {
		return mailstore.Delivered{}, err
	}
	var added bytes.Buffer
	if env.Role == RoleSubmission {
		if err := checkFromOwned(env.AuthUser, hdr); err != nil {
			return mailstore.Delivered{}, err
		}
		if hdr.Get("Message-Id") == "" {
			fmt.Fprintf(&added, "Message-ID: <%s@%s>\r\n", randomID(), p.opts.Hostname)
		}
		if hdr.Get("Date") == "" {
			fmt.Fprintf(&added, "Date: %s\r\n", env.ReceivedAt.Format(time.RFC1123Z))
		}
	}
	received := p.receivedHeader(env)

	var local []mailstore.Target
	var remote []string
	seen := map[int64]bool{}
	for _, r := range env.Recipients {
		switch {
		case r.UserID == 0:
			remote = append(remote, r.Address.String())
		case !seen[r.UserID]:
			seen[r.UserID] = true
			local = append(local, mailstore.Target{UserID: r.UserID})
		}
	}
	var copies []mailstore.Copy
	if len(local) > 0 {
		prefix := fmt.Sprintf("Return-Path: <%s>\r\n%s%s", env.MailFrom, received, added.Bytes())
		copies = append(copies, mailstore.Copy{Body: prefixed(prefix, msg), Local: local})
	}
	if len(remote) > 0 {
		copies = append(copies, mailstore.Copy{
			Body:     prefixed(received+added.String(), msg),
			Outbound: &mailstore.Outbound{Sender: env.MailFrom, Recipients: remote},
		})
	}
	d, err := p.opts.Store.Deliver(ctx, mailstore.Delivery{Copies: copies, InternalDate: env.ReceivedAt, EnvelopeID: env.ID})
	if err != nil {
		return d, err
	}
	p.opts.Logger.Info("message stored", "id", env.ID, "size", msg.Size(), "local", len(local), "remote", len(remote))
	return d, nil
}

func (p *Pipeline) receivedHeader(env *Envelope) string {
	with := "ESMTP"
	if env.UTF8 {
		with = "UTF8SMTP"
	}
	if env.TLS {
		with += "S"
	}
	if env.AuthUser != nil {
		with += "A"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (Sealgate) with %s id %s", sanitize(env.Helo), env.RemoteIP.Unmap(), p.opts.Hostname, with, env.ID)
	if len(env.Recipients) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", env.Recipients[0].Address)
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", env.ReceivedAt.Format(time.RFC1123Z))
	return b.String()
}

// sanitize keeps a client-supplied word from breaking the header it is written into.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r == 0x7f || r == '(' || r == ')' || r == ';' {
			return -1
		}
		return r
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

func readHeader(r io.Reader) (textproto.MIMEHeader, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxHeaderSize+1))
	var raw bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		raw.Write(line)
		if raw.Len() > MaxHeaderSize {
			return nil, ErrHeaderTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 || err != nil {
			break
		}
	}
	if !bytes.HasSuffix(raw.Bytes(), []byte("\n\n")) && !bytes.HasSuffix(raw.Bytes(), []byte("\r\n\r\n")) {
		raw.WriteString("\r\n\r\n") // header-only message
	}
	h, err := textproto.NewReader(bufio.NewReader(&raw)).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrMalformedHeader, err)
	}
	return h, nil
}

func checkFromOwned(u *mailstore.User, h textproto.MIMEHeader) error {
	if u == nil {
		return ErrSenderNotOwned
	}
	froms := h.Values("From")
	if len(froms) != 1 {
		return fmt.Errorf("%w: message needs exactly one From: header", ErrMalformedHeader)
	}
	list, err := (&mail.AddressParser{}).ParseList(froms[0])
	if err != nil || len(list) == 0 {
		return fmt.Errorf("%w: From: %v", ErrMalformedHeader, err)
	}
	for _, a := range list {
		addr, err := address.Parse(a.Address)
		if err != nil || !auth.Owns(*u, addr) {
			return ErrSenderNotOwned
		}
	}
	return nil
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewID returns a transaction id for logs and Received: headers.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

type prefixedBody struct {
	prefix []byte
	rest   *msgbuf.Buffer
}

func prefixed(prefix string, rest *msgbuf.Buffer) *prefixedBody {
	return &prefixedBody{prefix: []byte(prefix), rest: rest}
}

func (b *prefixedBody) Size() int64 { return int64(len(b.prefix)) + b.rest.Size() }

func (b *prefixedBody) NewReader() io.Reader {
	return io.MultiReader(bytes.NewReader(b.prefix), b.rest.NewReader())
}

// Bytes joins prefix and body when the body is in memory.
func (b *prefixedBody) Bytes() ([]byte, bool) {
	rest, ok := b.rest.Bytes()
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(b.prefix)+len(rest))
	return append(append(out, b.prefix...), rest...), true
}
