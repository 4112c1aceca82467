package imapserver

import "github.com/sealgate/sealgate/gateway/mailstore"

// Store is what the IMAP server needs of the mail store: the IMAP role of the store contract
// (UIDs, MODSEQs and flags as the mailstore package documents them). Every mail store
// backend implements it.
type Store interface {
	mailstore.IMAP
}

var _ Store = (*mailstore.Store)(nil)
