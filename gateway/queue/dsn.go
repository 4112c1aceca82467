package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// maxReturnedHeader bounds the original header section copied into a DSN.
const maxReturnedHeader = 256 << 10

// encodeResult is how a recipient's last outcome is kept in the spool (and shown by `queue
// list`): "STATUS MTA: REPLY", MTA "-" when no server was reached. parseResult reads it back
// when a DSN is written for a recipient that failed before a crash.
func encodeResult(r delivery.Result) string {
	mta := r.MTA
	if mta == "" {
		mta = "-"
	}
	return fmt.Sprintf("%s %s: %s", r.Status, mta, oneLine(r.Reply))
}

func parseResult(rcpt, s string) delivery.Result {
	r := delivery.Result{Rcpt: rcpt, Outcome: delivery.Failed, Status: "5.0.0", Reply: s}
	status, rest, ok := strings.Cut(s, " ")
	if !ok || len(status) < 5 || (status[0] != '4' && status[0] != '5') {
		return r
	}
	mta, reply, ok := strings.Cut(rest, ": ")
	if !ok {
		return r
	}
	r.Status, r.Reply = status, reply
	if mta != "-" {
		r.MTA = mta
	}
	r.SMTP = len(reply) > 4 && reply[3] == ' ' && (reply[0] == '4' || reply[0] == '5') && isDigits(reply[:3])
	return r
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// Bouncer writes delivery status notifications (RFC 3464) and stores them with the spool
// change that made them due. It is used by the Runner and by `queue delete --bounce`.
type Bouncer struct {
	Store         BounceStore
	Hostname      string               // Reporting-MTA and the notification's From: domain
	IsLocalDomain func(string) bool    // sender domains whose users get the DSN in their INBOX
	Now           func() time.Time     // nil: time.Now
	Warn          func(string, ...any) // nil: silent
	// Subaddressing finds the account of a local sender's sub-address (user+tag@) for its DSN.
	Subaddressing address.Subaddressing
}

// Settle applies st to entry id after adding every recipient now bouncing to st.Bounced and a
// notification for them to st.Bounce: one DSN per settling, to the envelope sender. A null
// sender (a bounce itself) gets none; a local sender without an account gets none (logged).
func (b *Bouncer) Settle(ctx context.Context, id int64, st mailstore.Settle) (bool, error) {
	e, err := b.Store.QueueEntry(ctx, id)
	if err != nil {
		return false, err
	}
	var failed []delivery.Result
	for _, r := range e.Recipients {
		if r.State == mailstore.RcptBouncing {
			st.Bounced = append(st.Bounced, r.Address)
			failed = append(failed, parseResult(r.Address, r.LastError))
		}
	}
	if len(failed) > 0 && e.Sender != "" {
		st.Bounce, err = b.bounce(ctx, e, failed)
		if err != nil {
			return false, err
		}
	}
	if len(failed) > 0 {
		b.warn("message bounced", "queue_id", id, "sender", e.Sender, "recipients", st.Bounced, "result", "bounced", "dsn", st.Bounce != nil)
	}
	return b.Store.QueueSettle(ctx, id, st)
}

func (b *Bouncer) bounce(ctx context.Context, e mailstore.QueueEntry, failed []delivery.Result) (*mailstore.Bounce, error) {
	return b.notice(ctx, e, failed, time.Time{})
}

// Delayed makes the warning that mail to the recipients in results is delayed and will be
// retried until retryUntil (RFC 3464 "Action: delayed"); nil when the sender cannot get one.
func (b *Bouncer) Delayed(ctx context.Context, e mailstore.QueueEntry, results []delivery.Result, retryUntil time.Time) (*mailstore.Bounce, error) {
	if e.Sender == "" {
		return nil, nil
	}
	return b.notice(ctx, e, results, retryUntil)
}

// Refusal is mail refused for some local recipients when it was received, after it was
// accepted for others (a mailbox over its quota).
type Refusal struct {
	Sender  string // the envelope sender; "" gets no DSN
	Arrival time.Time
	Failed  []delivery.Result
	Header  []byte // the message's header section
}

// Refused makes the DSN for r, to be stored with the message for the other recipients; nil
// when the sender cannot get one.
func (b *Bouncer) Refused(ctx context.Context, r Refusal) (*mailstore.Bounce, error) {
	if r.Sender == "" {
		return nil, nil
	}
	e := mailstore.QueueEntry{Sender: r.Sender, Created: r.Arrival}
	out, err := b.addressed(ctx, e)
	if out == nil || err != nil {
		return nil, err
	}
	out.Body = b.compose(e, r.Failed, r.Header, time.Time{})
	return out, nil
}

// notice makes a DSN to e's sender: a bounce, or with retryUntil set a delay warning.
func (b *Bouncer) notice(ctx context.Context, e mailstore.QueueEntry, failed []delivery.Result, retryUntil time.Time) (*mailstore.Bounce, error) {
	out, err := b.addressed(ctx, e)
	if out == nil || err != nil {
		return nil, err
	}
	hdr, err := b.originalHeader(ctx, e.BodyID)
	if err != nil {
		return nil, err
	}
	out.Body = b.compose(e, failed, hdr, retryUntil)
	return out, nil
}

// addressed is a DSN without its body, addressed to e's sender: its local account, or the
// remote address; nil when there is none.
func (b *Bouncer) addressed(ctx context.Context, e mailstore.QueueEntry) (*mailstore.Bounce, error) {
	sender, err := address.Parse(e.Sender)
	if err != nil {
		b.warn("no DSN: the envelope sender does not parse", "queue_id", e.ID, "sender", e.Sender)
		return nil, nil
	}
	var out mailstore.Bounce
	if b.IsLocalDomain != nil && b.IsLocalDomain(sender.Domain) {
		u, err := b.Store.UserByAddress(ctx, sender)
		if base := b.Subaddressing.Base(sender); errors.Is(err, mailstore.ErrNotFound) && base != sender {
			u, err = b.Store.UserByAddress(ctx, base)
		}
		if errors.Is(err, mailstore.ErrNotFound) {
			b.warn("no DSN: the local sender has no account", "queue_id", e.ID, "sender", e.Sender)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out.Local = &mailstore.Target{UserID: u.ID}
	} else {
		out.Remote = e.Sender
	}
	return &out, nil
}

func (b *Bouncer) warn(msg string, args ...any) {
	if b.Warn != nil {
		b.Warn(msg, args...)
	}
}

func (b *Bouncer) originalHeader(ctx context.Context, bodyID int64) ([]byte, error) {
	rc, _, err := b.Store.OpenBody(ctx, bodyID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxReturnedHeader))
	if err != nil {
		return nil, err
	}
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return data[:i+2], nil
	}
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		return data[:i+1], nil
	}
	// No end of header within the limit: return whole lines only.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		return data[:i+1], nil
	}
	return nil, nil
}

// compose writes the multipart/report (RFC 6522) with a human part, the
// message/delivery-status part (RFC 3464) and the original header (text/rfc822-headers).
func (b *Bouncer) compose(e mailstore.QueueEntry, failed []delivery.Result, origHeader []byte, retryUntil time.Time) []byte {
	delayed := !retryUntil.IsZero()
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	t := now()
	boundary := "=_sealgate_" + randHex(12)
	var w bytes.Buffer
	crlf := func(format string, args ...any) { fmt.Fprintf(&w, format+"\r\n", args...) }
	crlf("From: Mail Delivery System <MAILER-DAEMON@%s>", b.Hostname)
	crlf("To: <%s>", e.Sender)
	if delayed {
		crlf("Subject: Delayed Mail (still being retried)")
	} else {
		crlf("Subject: Undelivered Mail Returned to Sender")
	}
	crlf("Date: %s", t.Format(time.RFC1123Z))
	crlf("Message-ID: <%s@%s>", randHex(16), b.Hostname)
	crlf("Auto-Submitted: auto-replied")
	crlf("MIME-Version: 1.0")
	crlf("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"", boundary)
	crlf("")
	crlf("This is a MIME-encapsulated message.")
	crlf("")
	crlf("--%s", boundary)
	crlf("Content-Type: text/plain; charset=utf-8")
	crlf("Content-Transfer-Encoding: 8bit")
	crlf("")
	crlf("This is the mail system at %s.", b.Hostname)
	crlf("")
	if delayed {
		crlf("Your message has not been delivered yet to the following recipients. The mail")
		crlf("system keeps trying until %s; you do not need to send it again.", retryUntil.Format(time.RFC1123Z))
	} else {
		crlf("Your message could not be delivered to the following recipients:")
	}
	crlf("")
	for _, f := range failed {
		crlf("  <%s>: %s", f.Rcpt, oneLine(f.Reply))
	}
	crlf("")
	crlf("Its header is attached below.")
	crlf("")
	crlf("--%s", boundary)
	crlf("Content-Type: message/delivery-status")
	crlf("")
	crlf("Reporting-MTA: dns; %s", b.Hostname)
	if e.ID != 0 { // not for mail refused as it was received
		crlf("X-Sealgate-Queue-ID: %d", e.ID)
	}
	crlf("Arrival-Date: %s", e.Created.Format(time.RFC1123Z))
	for _, f := range failed {
		crlf("")
		addrType := "rfc822"
		if !isASCII(f.Rcpt) {
			addrType = "utf-8" // RFC 6533
		}
		crlf("Final-Recipient: %s; %s", addrType, f.Rcpt)
		if delayed {
			crlf("Action: delayed")
		} else {
			crlf("Action: failed")
		}
		crlf("Status: %s", f.Status)
		if f.MTA != "" {
			crlf("Remote-MTA: dns; %s", f.MTA)
		}
		diagType := "x-sealgate"
		if f.SMTP {
			diagType = "smtp"
		}
		crlf("Diagnostic-Code: %s; %s", diagType, oneLine(f.Reply))
		crlf("Last-Attempt-Date: %s", t.Format(time.RFC1123Z))
		if delayed {
			crlf("Will-Retry-Until: %s", retryUntil.Format(time.RFC1123Z))
		}
	}
	crlf("")
	crlf("--%s", boundary)
	crlf("Content-Type: text/rfc822-headers")
	crlf("")
	w.Write(origHeader)
	crlf("")
	crlf("--%s--", boundary)
	return w.Bytes()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
