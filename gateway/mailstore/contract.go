package mailstore

import (
	"context"
	"io"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
)

// The store contract. Backend is what every mail store implements: the embedded Store of
// this package and pgstore.Store. The semantics of each method are those documented on
// Store's method of the same name; the conformance suite (package storetest) holds every
// backend to them. The role interfaces below are the parts consumers need; a consumer
// declares the role it uses rather than a method list of its own.

// AccountLookup finds accounts: authentication, SMTP recipients, web mail, bounces.
type AccountLookup interface {
	UserByAddress(ctx context.Context, addr address.Address) (User, error)
}

// Directory resolves recipients: accounts, aliases, the first account (postmaster) and the
// mailbox a copy goes to.
type Directory interface {
	AccountLookup
	AliasByKey(ctx context.Context, key string) (Alias, error)
	FirstUser(ctx context.Context) (User, error)
	MailboxByName(ctx context.Context, userID int64, name string) (Mailbox, error)
}

// PolicySource supplies the stored policy settings.
type PolicySource interface {
	PolicySettings(ctx context.Context) (map[string]map[string]string, error)
}

// Deliverer stores accepted messages (see Store.Deliver).
type Deliverer interface {
	Deliver(ctx context.Context, d Delivery) (Delivered, error)
}

// BodyOpener reads stored bodies.
type BodyOpener interface {
	OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error)
}

// MailboxReader lists a user's mailboxes and counts their messages.
type MailboxReader interface {
	Mailboxes(ctx context.Context, userID int64) ([]Mailbox, error)
	MailboxByName(ctx context.Context, userID int64, name string) (Mailbox, error)
	MailboxStatus(ctx context.Context, mailboxID int64) (MailboxCounts, error)
}

// Folders is MailboxReader with the changes to the hierarchy IMAP makes.
type Folders interface {
	MailboxReader
	CreateMailboxes(ctx context.Context, userID int64, name, specialUse string) (int64, error)
	DeleteMailbox(ctx context.Context, userID int64, name string) error
	RenameMailbox(ctx context.Context, userID int64, oldName, newName string) error
	SetSubscribed(ctx context.Context, userID int64, name string, subscribed bool) error
}

// MessageReader reads the messages of a mailbox and searches them.
type MessageReader interface {
	BodyOpener
	Messages(ctx context.Context, mailboxID int64) ([]Message, error)
	MessagesInRange(ctx context.Context, mailboxID int64, lo, hi uint32) ([]Message, error)
	RawHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32][]byte, error)
	SearchHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32]string, error)
	SearchTextUIDs(ctx context.Context, mailboxID int64, field TextField, needle string) (map[uint32]bool, error)
	SearchFieldUIDs(ctx context.Context, mailboxID int64, name, needle string) (FieldMatches, error)
}

// MessageWriter changes the messages of a mailbox as a mail client does.
type MessageWriter interface {
	Append(ctx context.Context, r AppendRequest) (uint32, uint32, error)
	AppendAll(ctx context.Context, rs []AppendRequest) (uint32, []uint32, error)
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, ch FlagChange) ([]Message, error)
	CopyMessages(ctx context.Context, srcID, dstID int64, uids []uint32, move bool) (CopyResult, error)
	ExpungeDeleted(ctx context.Context, mailboxID int64, only []uint32) ([]uint32, error)
}

// MailboxSync tells a session what changed in its mailbox (CONDSTORE, QRESYNC, IDLE).
type MailboxSync interface {
	Snapshot(ctx context.Context, mailboxID int64) (MailboxSnapshot, error)
	HighestModSeq(ctx context.Context, mailboxID int64) (uint64, error)
	ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (Changes, error)
}

// IMAP is what the IMAP server needs.
type IMAP interface {
	Folders
	MessageReader
	MessageWriter
	MailboxSync
	MessagesWithEnvelopes(ctx context.Context, mailboxID int64, lo, hi uint32) ([]Message, []Envelope, uint64, error)
	InlineBodies(ctx context.Context, ids []int64) (map[int64][]byte, error)
	// The \Recent mark of IMAP4rev1: the first session to select a mailbox claims its new
	// messages.
	ClaimRecent(ctx context.Context, mailboxID int64, upTo uint32) (uint32, error)
	RecentMark(ctx context.Context, mailboxID int64) (uint32, error)
	// Subscriptions to names without a mailbox (they outlive DELETE and RENAME).
	SubscribedNames(ctx context.Context, userID int64) ([]string, error)
	SetSubscribedName(ctx context.Context, userID int64, name string, on bool) error
}

// Maildrops is what the POP3 server needs.
type Maildrops interface {
	BodyOpener
	Maildrop(ctx context.Context, userID int64) (Maildrop, error)
	UpdateMaildrop(ctx context.Context, u MaildropUpdate) error
	MaildropBodies(ctx context.Context, ids []int64) (map[int64][]byte, error)
	LockMaildrop(ctx context.Context, userID int64) (release func(), err error)
}

// SearchIndex is what the search indexer needs.
type SearchIndex interface {
	BodyOpener
	InlineBodies(ctx context.Context, ids []int64) (map[int64][]byte, error)
	UnindexedBodies(ctx context.Context, mailboxID int64, limit int) ([]int64, error)
	UnindexedSince(ctx context.Context, mailboxID int64, after uint32, limit int) ([]int64, uint32, error)
	PutSearchText(ctx context.Context, texts []SearchText) error
	HeadersWithoutEnvelope(ctx context.Context, limit int) ([]HeaderWithoutEnvelope, error)
	PutEnvelopes(ctx context.Context, envs []BodyEnvelope) error
	FillSearchFields(ctx context.Context, after int64, limit int) (int64, error)
}

// SpoolBounces is what settling a spool entry with a notification needs.
type SpoolBounces interface {
	AccountLookup
	BodyOpener
	QueueEntry(ctx context.Context, id int64) (QueueEntry, error)
	QueueSettle(ctx context.Context, id int64, st Settle) (done bool, err error)
}

// Spool is what the queue runner needs.
type Spool interface {
	SpoolBounces
	QueueDue(ctx context.Context, now time.Time, limit int) ([]int64, error)
	QueueLen(ctx context.Context) (int, error)
	QueueRecord(ctx context.Context, id int64, outcomes []QueueRecipient) error
}

// SpoolAdmin is what `sealgate queue` needs.
type SpoolAdmin interface {
	SpoolBounces
	QueueEntries(ctx context.Context) ([]QueueEntry, error)
	QueueSetHeld(ctx context.Context, id int64, held bool) error
	QueueRetry(ctx context.Context, id int64, now time.Time) error
	QueueFlush(ctx context.Context, now time.Time) (int, error)
	QueueRecord(ctx context.Context, id int64, outcomes []QueueRecipient) error
	QueueDelete(ctx context.Context, id int64) error
}

// TLSCounts keeps the TLS session counts between two TLS reports.
type TLSCounts interface {
	AddTLSCounts(ctx context.Context, counts []TLSCount) error
	TakeTLSCounts(ctx context.Context) ([]TLSCount, error)
}

// Quotas reads and sets accounts' storage limits.
type Quotas interface {
	Quota(ctx context.Context, userID int64) (Quota, error)
	SetQuota(ctx context.Context, addr address.Address, limit int64) error
}

// AccountAdmin is what `sealgate user` needs.
type AccountAdmin interface {
	Quotas
	AddUser(ctx context.Context, addr address.Address, passwordHash string) (User, error)
	SetPasswordHash(ctx context.Context, addr address.Address, hash string) error
	DeleteUser(ctx context.Context, addr address.Address) error
	Users(ctx context.Context) ([]User, error)
}

// AliasAdmin is what `sealgate alias` needs besides the Directory.
type AliasAdmin interface {
	SetAlias(ctx context.Context, key string, a Alias, check func(all map[string]Alias) error) error
	DeleteAlias(ctx context.Context, key string) error
	Aliases(ctx context.Context) (map[string]Alias, error)
}

// PolicyAdmin is what `sealgate policy` needs.
type PolicyAdmin interface {
	PolicySource
	SetPolicy(ctx context.Context, scope string, kv map[string]string) error
}

// Admin is what the administrative commands need.
type Admin interface {
	AccountAdmin
	Directory
	AliasAdmin
	PolicyAdmin
	SpoolAdmin
	// Check reports inconsistencies (`sealgate check`); it only reads.
	Check(ctx context.Context) ([]string, error)
	Close() error
}

// Backend is the whole contract of a mail store.
type Backend interface {
	Admin
	Deliverer
	IMAP
	Maildrops
	SearchIndex
	Spool
	TLSCounts
	CreateMailbox(ctx context.Context, userID int64, name, specialUse string) (int64, error)
	SetFlags(ctx context.Context, mailboxID int64, uids []uint32, flags Flags) error
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) error
}

var _ Backend = (*Store)(nil)
