// Package mailstore is Sealgate's embedded store: accounts, mailboxes, messages, and the
// outbound spool, in one data directory that several processes may open at once (the server
// and the CLI).
//
// # Layout
//
//	DIR/mail.db        SQLite database in WAL mode (synchronous=FULL): all metadata, and the
//	                   bodies of messages up to InlineLimit bytes
//	DIR/blobs/xx/ID    bodies larger than InlineLimit, one file each, never modified
//	DIR/mail.changes   the directory's change counter (package changecount)
//
// Open upgrades a database written by an older Sealgate in place, one schema version per
// transaction, and refuses one written by a newer Sealgate (ErrSchemaVersion).
//
// # Durability
//
// Deliver is the only way a message enters the store, and it is atomic: every copy of one
// message — mailbox entries for local recipients and the outbound spool entry for remote
// ones — becomes visible in one SQLite transaction, or none does. A large body file is
// written, fsynced, renamed into place and its directory fsynced before that transaction; a
// crash in between leaves an unreferenced file that Open removes. When Deliver returns nil the
// transaction is committed and its WAL frames fsynced, so the SMTP server may answer 250.
//
// Concurrent Deliver calls are committed together (group commit): one writer goroutine takes
// every request waiting, applies each in its own savepoint, takes in the requests that arrived
// meanwhile, and commits them all with a single fsync. A request that fails rolls back only
// its savepoint.
//
// # The directory
//
// UserByAddress, AliasByKey and PolicySettings answer from memory while the directory's change
// counter stands still (and for at most 10 s). Every write to accounts, aliases or policy, in
// any process that opened the directory, moves the counter after its commit, so the next
// lookup in every process reads the database again. A change made with other tools than
// Sealgate's is seen within the 10 s.
//
// # Identity
//
// Each mailbox has a UIDVALIDITY that is never reused in this store and a UIDNEXT that only
// grows; a message's UID never changes. Bodies are shared: copies with equal bytes delivered
// to several mailboxes in one Deliver reference one body, which is removed when its last
// reference is.
//
// # Storage quotas
//
// Each account has a usage counter (the sum of its messages' sizes) that triggers keep in the
// transaction adding or removing messages, and a limit: its own (SetQuota) or
// Options.DefaultQuota; 0 is unlimited. Deliver, Append and CopyMessages check the counters of
// the accounts they added to before their savepoint is released, on the single writer, so a
// message that would take an account past its limit is refused whole (ErrOverQuota) and
// concurrent deliveries cannot overshoot together. Moves, expunges, mailbox and account
// deletion only lower the counter; bounces the queue stores for local senders are not
// refused.
//
// # POP3 maildrop lock
//
// LockMaildrop gives one POP3 session at a time a user's maildrop. The embedded store serves
// one gateway process, so the lock is held in the Store's memory, shared by all of that
// process's POP3 listeners.
package mailstore
