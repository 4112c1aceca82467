package pipeline

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
)

// Refused describes local recipients refused after their message was accepted for others.
type Refused struct {
	Sender     string // the envelope sender; "" for the null sender
	EnvelopeID string
	Arrival    time.Time
	Recipients []string
	// Status (RFC 3463) and Reply (an SMTP reply) say why.
	Status, Reply string
	// Header is the refused message's header section as received.
	Header []byte
}

// Bouncer makes the delivery status notification for r to its sender: a copy to store with
// the message, or nil when the sender cannot get one (null sender, local sender without an
// account). The gateway adapts the queue's DSN writer.
type Bouncer interface {
	Refused(ctx context.Context, r Refused) (*mailstore.Copy, error)
}

// The reply recorded in the notification for a recipient whose mailbox is full.
const (
	quotaStatus = "5.2.2"
	quotaReply  = "552 5.2.2 Mailbox full: the message exceeds the recipient's storage quota"
)

// deliverWithinQuota stores copies. When the store refuses them because some local accounts
// would go past their quota (mailstore.QuotaError), those accounts are left out and their
// sender gets a notification stored in the same delivery; the others receive the message.
// Each round leaves out at least one account, so it ends. When no copy is left, the store's
// error is returned (the SMTP server answers 552 5.2.2).
func (p *Pipeline) deliverWithinQuota(ctx context.Context, env *Envelope, msg *msgbuf.Buffer, copies []mailstore.Copy) (mailstore.Delivered, error) {
	var full []int64
	var notice *mailstore.Copy
	for {
		all := copies
		if notice != nil {
			all = append(slices.Clip(copies), *notice)
		}
		d, err := p.opts.Store.Deliver(ctx, mailstore.Delivery{Copies: all, InternalDate: env.ReceivedAt, EnvelopeID: env.ID})
		var qe *mailstore.QuotaError
		if !errors.As(err, &qe) {
			if err == nil && len(full) > 0 {
				p.opts.Logger.Info("recipients refused: mailbox full", "id", env.ID, "recipients", refusedAddresses(env, full),
					"status", quotaStatus, "dsn", notice != nil)
			}
			return d, err
		}
		full = append(full, qe.UserIDs...)
		copies = withoutAccounts(copies, full)
		if len(copies) == 0 {
			p.opts.Logger.Info("message refused: mailbox full", "id", env.ID, "recipients", refusedAddresses(env, full), "status", quotaStatus)
			return mailstore.Delivered{}, err
		}
		if notice, err = p.quotaNotice(ctx, env, msg, full); err != nil {
			return mailstore.Delivered{}, err
		}
		if notice != nil && len(withoutAccounts([]mailstore.Copy{*notice}, full)) == 0 {
			notice = nil // the sender's own mailbox is full too
		}
	}
}

// quotaNotice is the sender's notification that the accounts in full did not get the message.
func (p *Pipeline) quotaNotice(ctx context.Context, env *Envelope, msg *msgbuf.Buffer, full []int64) (*mailstore.Copy, error) {
	if p.opts.Bouncer == nil || env.MailFrom == "" {
		return nil, nil
	}
	hdr, err := headerSection(msg.NewReader())
	if err != nil {
		return nil, err
	}
	return p.opts.Bouncer.Refused(ctx, Refused{
		Sender: env.MailFrom, EnvelopeID: env.ID, Arrival: env.ReceivedAt,
		Recipients: refusedAddresses(env, full), Status: quotaStatus, Reply: quotaReply, Header: hdr,
	})
}

// withoutAccounts is copies without their local targets in accounts; copies left without
// any recipient are dropped.
func withoutAccounts(copies []mailstore.Copy, accounts []int64) []mailstore.Copy {
	var out []mailstore.Copy
	for _, c := range copies {
		var local []mailstore.Target
		for _, t := range c.Local {
			if !slices.Contains(accounts, t.UserID) {
				local = append(local, t)
			}
		}
		c.Local = local
		if len(c.Local) > 0 || (c.Outbound != nil && len(c.Outbound.Recipients) > 0) {
			out = append(out, c)
		}
	}
	return out
}

// refusedAddresses are the envelope recipients that resolved to the accounts in full.
func refusedAddresses(env *Envelope, full []int64) []string {
	var out []string
	for _, r := range env.Recipients {
		if r.UserID != 0 && slices.Contains(full, r.UserID) && !slices.Contains(out, r.Address.String()) {
			out = append(out, r.Address.String())
		}
	}
	return out
}
