package gateway

import (
	"context"

	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/gateway/queue"
)

// refusalNotices writes the pipeline's notifications for recipients refused at receipt (a
// full mailbox) with the queue's DSN writer, so they read like every other bounce.
type refusalNotices struct {
	b *queue.Bouncer
}

var _ pipeline.Bouncer = refusalNotices{}

// Refused implements pipeline.Bouncer.
func (n refusalNotices) Refused(ctx context.Context, r pipeline.Refused) (*mailstore.Copy, error) {
	failed := make([]delivery.Result, len(r.Recipients))
	for i, rcpt := range r.Recipients {
		failed[i] = delivery.Result{Rcpt: rcpt, Outcome: delivery.Failed, Status: r.Status, Reply: r.Reply, SMTP: true}
	}
	b, err := n.b.Refused(ctx, queue.Refusal{Sender: r.Sender, Arrival: r.Arrival, Failed: failed, Header: r.Header})
	if b == nil || err != nil {
		return nil, err
	}
	c := &mailstore.Copy{Body: msgbuf.FromBytes(b.Body)}
	if b.Local != nil {
		c.Local = []mailstore.Target{*b.Local}
	} else {
		// The null sender: a notification never bounces in turn.
		c.Outbound = &mailstore.Outbound{Sender: "", Recipients: []string{b.Remote}}
	}
	return c, nil
}
