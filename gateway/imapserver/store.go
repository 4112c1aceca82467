package imapserver

import (
	"context"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Store is what the IMAP server needs of the mail store: the IMAP role of the store contract
// (UIDs, MODSEQs and flags as the mailstore package documents them) and an account's storage
// quota (QUOTA, RFC 9208). Every mail store backend implements it.
type Store interface {
	mailstore.IMAP
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
}

var _ Store = (*mailstore.Store)(nil)
