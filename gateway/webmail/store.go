package webmail

import (
	"context"
	"io"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Store is what web mail needs of the mail store: the IMAP view of a user's mailboxes (web
// mail reads and changes them as an IMAP session does) and the search index mailindex fills.
type Store interface {
	OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error)

	UserByAddress(ctx context.Context, addr address.Address) (mailstore.User, error)
	Mailboxes(ctx context.Context, userID int64) ([]mailstore.Mailbox, error)
	MailboxByName(ctx context.Context, userID int64, name string) (mailstore.Mailbox, error)
	MailboxStatus(ctx context.Context, mailboxID int64) (mailstore.MailboxCounts, error)
	Messages(ctx context.Context, mailboxID int64) ([]mailstore.Message, error)
	MessagesInRange(ctx context.Context, mailboxID int64, lo, hi uint32) ([]mailstore.Message, error)
	RawHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32][]byte, error)
	SearchHeaders(ctx context.Context, mailboxID int64) (map[uint32]string, error)
	SearchTextUIDs(ctx context.Context, mailboxID int64, field mailstore.TextField, needle string) (map[uint32]bool, error)
	Append(ctx context.Context, r mailstore.AppendRequest) (uint32, uint32, error)
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, ch mailstore.FlagChange) ([]mailstore.Message, error)
	CopyMessages(ctx context.Context, srcID, dstID int64, uids []uint32, move bool) (mailstore.CopyResult, error)
	ExpungeDeleted(ctx context.Context, mailboxID int64, only []uint32) ([]uint32, error)
	// Quota is the storage shown under the folders.
	Quota(ctx context.Context, userID int64) (mailstore.Quota, error)
}

var _ Store = (*mailstore.Store)(nil)
