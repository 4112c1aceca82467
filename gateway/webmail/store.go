package webmail

import (
	"context"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Store is what web mail needs of the mail store: the IMAP view of a user's mailboxes (web
// mail reads and changes them as an IMAP session does) and the search index mailindex fills.
type Store interface {
	mailstore.AccountLookup
	mailstore.MailboxReader
	mailstore.MessageReader
	mailstore.MessageWriter
	// Quota is the storage shown under the folders.
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
}

var _ Store = (*mailstore.Store)(nil)
