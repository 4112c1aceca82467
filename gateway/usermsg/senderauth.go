package usermsg

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/sealgate/sealgate/gateway/mailauth"
)

// SenderCheck is the gateway's DMARC result for a message. It is read from the first
// Authentication-Results field that carries the gateway's authserv-id: the gateway removes
// every field that claims its id from mail arriving from outside, in any RFC 8601 form
// (mailauth.ClaimsAuthservID), and puts its own above the message's header, so no sender can
// forge it.
type SenderCheck struct {
	DMARC string // pass, fail, none, temperror, permerror; "" when the gateway recorded none
	From  string // the From: domain DMARC was evaluated for
}

// ReadSenderCheck finds the gateway's result among the bodies of a message's
// Authentication-Results fields, in header order.
func ReadSenderCheck(fields []string, authservID string) SenderCheck {
	for _, f := range fields {
		id, rest, err := mailauth.ParseAuthservID(f)
		if err != nil || !mailauth.SameAuthservID(id, authservID) {
			continue
		}
		var c SenderCheck
		// go-msgauth's parser reads the results; the id was read above with the full grammar.
		if _, results, err := authres.Parse(strings.TrimSpace(authservID) + ";" + rest); err == nil {
			for _, r := range results {
				if d, ok := r.(*authres.DMARCResult); ok {
					c.DMARC, c.From = strings.ToLower(string(d.Value)), d.From
				}
			}
		}
		return c
	}
	return SenderCheck{}
}

// Failed says the message fails its sender domain's DMARC policy: its From: may be forged.
func (c SenderCheck) Failed() bool { return c.DMARC == "fail" }

// Badges are the facts of c for display.
func (c SenderCheck) Badges() []Badge {
	if !c.Failed() {
		return nil
	}
	return []Badge{{Kind: "bad", Label: "Sender NOT verified (DMARC fail)",
		Title: "the domain " + c.From + " publishes a DMARC policy that this message fails: the sender may be forged"}}
}
