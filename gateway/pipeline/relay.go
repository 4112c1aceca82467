package pipeline

import (
	"errors"
	"net/textproto"
	"strings"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Gateway mode: the copy of a message for recipients in a relay domain goes to the
// organisation's own mail server through the queue. It carries the gateway's results like a
// copy stored locally, and a trace header by which the gateway recognises mail it has already
// handed to the internal server: a misrouted next hop that sends it back would otherwise loop.

// TraceHeader names the gateway on every copy it hands to a relay domain's next hop.
const TraceHeader = "Sealgate-Trace"

// Loop limits.
const (
	// MaxHops is the most Received: headers a message may carry (Postfix's hopcount_limit).
	MaxHops = 50
	// MaxRelayPasses is how often a message may have been handed to the internal server by
	// this gateway (TraceHeader with its hostname) before it is refused as a loop.
	MaxRelayPasses = 3
)

// ErrLoop refuses a message that has passed too many hops or through this gateway too often.
var ErrLoop = errors.New("pipeline: mail loop: too many hops")

// checkLoop refuses a message that is looping.
func (p *Pipeline) checkLoop(hdr textproto.MIMEHeader) error {
	if len(hdr.Values("Received")) > MaxHops {
		return ErrLoop
	}
	passes := 0
	for _, v := range hdr.Values(TraceHeader) {
		if strings.EqualFold(strings.TrimSpace(v), p.opts.Hostname) {
			passes++
		}
	}
	if passes >= MaxRelayPasses {
		return ErrLoop
	}
	return nil
}

// relayCopy is the copy for recipients in relay domains, queued for their next hop: Received:,
// the trace header and the result headers above the transformed content. It is not DKIM-signed:
// it stays inside the organisation.
func (p *Pipeline) relayCopy(received string, res copyResult, authRes, sender string, rcpts []string) mailstore.Copy {
	h := received + TraceHeader + ": " + p.opts.Hostname + "\r\n" + p.resultHeaders(res, authRes)
	return mailstore.Copy{
		Body:     prefixed(h, res.content),
		Outbound: &mailstore.Outbound{Sender: sender, Recipients: rcpts},
	}
}
