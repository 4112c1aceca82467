package imapserver

import (
	"context"
	"io"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Store is what the IMAP server needs of the mail store. *mailstore.Store implements it, and
// so does any other backend with the same semantics (UIDs, MODSEQs and flags as the
// mailstore package documents them).
type Store interface {
	OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error)

	// The mailbox list of a user.
	Mailboxes(ctx context.Context, userID int64) ([]mailstore.Mailbox, error)
	MailboxByName(ctx context.Context, userID int64, name string) (mailstore.Mailbox, error)
	CreateMailboxes(ctx context.Context, userID int64, name, specialUse string) (int64, error)
	DeleteMailbox(ctx context.Context, userID int64, name string) error
	RenameMailbox(ctx context.Context, userID int64, oldName, newName string) error
	SetSubscribed(ctx context.Context, userID int64, name string, subscribed bool) error
	// The \Recent mark of IMAP4rev1 (mailstore.Store.ClaimRecent).
	ClaimRecent(ctx context.Context, mailboxID int64, upTo uint32) (uint32, error)
	RecentMark(ctx context.Context, mailboxID int64) (uint32, error)
	// Subscriptions to names without a mailbox (mailstore.Store.SubscribedNames).
	SubscribedNames(ctx context.Context, userID int64) ([]string, error)
	SetSubscribedName(ctx context.Context, userID int64, name string, on bool) error
	MailboxStatus(ctx context.Context, mailboxID int64) (mailstore.MailboxCounts, error)

	// The messages of a selected mailbox.
	Snapshot(ctx context.Context, mailboxID int64) (mailstore.MailboxSnapshot, error)
	HighestModSeq(ctx context.Context, mailboxID int64) (uint64, error)
	ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (mailstore.Changes, error)
	MessagesInRange(ctx context.Context, mailboxID int64, lo, hi uint32) ([]mailstore.Message, error)
	MessagesWithEnvelopes(ctx context.Context, mailboxID int64, lo, hi uint32) ([]mailstore.Message, []mailstore.Envelope, error)
	InlineBodies(ctx context.Context, ids []int64) (map[int64][]byte, error)
	RawHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32][]byte, error)
	Append(ctx context.Context, r mailstore.AppendRequest) (uint32, uint32, error)
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, ch mailstore.FlagChange) ([]mailstore.Message, error)
	CopyMessages(ctx context.Context, srcID, dstID int64, uids []uint32, move bool) (mailstore.CopyResult, error)
	ExpungeDeleted(ctx context.Context, mailboxID int64, only []uint32) ([]uint32, error)

	// SEARCH, on the index Options.Index fills.
	SearchHeaders(ctx context.Context, mailboxID int64) (map[uint32]string, error)
	SearchTextUIDs(ctx context.Context, mailboxID int64, field mailstore.TextField, needle string) (map[uint32]bool, error)
}

var _ Store = (*mailstore.Store)(nil)
