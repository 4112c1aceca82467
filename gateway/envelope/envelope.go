// Package envelope holds what the SMTP envelope carries past the session: the checked
// recipient (as addressing resolved it) and the transaction id. It is a leaf shared by the
// parts that make recipients (addressing, the SMTP session, web mail) and the pipeline that
// consumes them, so that none of them imports another for a type.
package envelope

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/sealgate/sealgate/crypto/address"
)

// Recipient is a checked envelope recipient.
type Recipient struct {
	Address address.Address
	// UserID is the local account that receives the message; 0 for a remote recipient.
	UserID int64
	// Mailbox is the folder of the account ("" is INBOX): a sub-address names it.
	Mailbox string
	// Base is Address without its sub-address tag, as addressing resolved it: the address
	// whose policy scope and keys apply. Zero for a recipient in another domain, which no
	// Directory resolves: the pipeline's Options.Subaddressing gives its base.
	Base address.Address
	// Forward is set when an alias forwards this copy to another domain.
	Forward *Forward
	// Relay marks a recipient in a relay domain (gateway mode): it gets the inbound treatment
	// of a local recipient, and its copy is queued for the domain's next hop. UserID is 0.
	Relay bool
}

// Forward describes a copy that an alias sends on to another domain.
type Forward struct {
	// Sender is the rewritten envelope sender (SRS); "" is the null sender.
	Sender string
	// Domain is the forwarding domain: it DKIM-signs the copy.
	Domain string
}

// NewID returns a transaction id for logs and Received: headers.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
