// Package sortthread orders and threads the messages of a mailbox for the IMAP SORT and
// THREAD commands (RFC 5256), with the display-name sort keys of RFC 5957 (SORT=DISPLAY),
// the ESORT return options of RFC 5267 and the PARTIAL range of RFC 9394.
//
// The package is pure: it reads no store and writes no connection. The caller gives it one
// Message per candidate message (the messages a SORT or THREAD search matched, in mailbox
// order) and maps the answer to the wire.
//
// # What the caller fills in
//
// Seq, UID, InternalDate and Size come from the store. The header-derived fields (Date,
// Subject, From, To, Cc, MessageID, InReplyTo, References) are filled by
// Message.ParseHeader from the raw header section, or by the caller from an already parsed
// envelope: Subject and the Address names are raw header text (RFC 2047 encoded words are
// decoded here), MessageID, InReplyTo and References are raw header values, and each Address
// is the first address of its header as an IMAP ENVELOPE gives it (a group's first entry is
// its name in Mailbox with an empty Host). A zero Date means "missing or unparsable": the
// sent date is then the internal date, as RFC 5256 says.
//
// # What the caller gets back
//
// Sort returns message numbers in sort order and the Thread functions return a forest of
// *Thread nodes that point at the caller's Messages. NumKind says whether numbers are
// sequence numbers (SORT, THREAD) or UIDs (UID SORT, UID THREAD); the caller picks it.
// AppendThreads writes a forest in the RFC 5256 wire form, "(1 2)(3 (4 5)(6))"; Return and
// PartialRange turn a sorted (or, for SEARCH, ascending) result into ESORT/ESEARCH data.
// Parse errors wrap ErrSyntax: the caller answers them with a tagged BAD.
//
// # Comparisons and ties
//
// Strings are compared with i;ascii-casemap (ASCII letters folded to upper case, then
// octets), the comparator RFC 5256 makes the default. Messages that compare equal under every
// criterion are ordered by sequence number, ascending even under REVERSE. The base subject
// is RFC 5256 section 2.1, step for step, except that a [blob] may hold non-ASCII text (list
// tags in any language are removed, as Dovecot does). Address keys follow Dovecot:
// the addr-mailbox alone (not the host) for FROM, TO and CC; for DISPLAYFROM and DISPLAYTO the
// decoded display name, else a comment after the address, else mailbox@host (MissingDomain
// for an address without one). Date headers and message IDs are read as leniently as Dovecot
// reads them; message IDs compare octet for octet. TestAgainstDovecot holds every answer to
// Dovecot's on random mailboxes built from the corner cases; the deliberate differences are
// two Dovecot 2.3 faults: a Date before 1970 sorts first here and last in Dovecot (which
// keeps sent dates as unsigned 32-bit seconds), and a message ID after one that lacks its
// ">" is read on its own here, where Dovecot glues the two together.
//
// # Bounds
//
// Hostile headers get a bounded answer: a subject is cut to MaxSubjectBytes before its base
// is taken and sort keys to MaxKeyBytes; a message contributes at most MaxReferences message
// IDs (its first and its last ones, so its parent is kept); THREAD REFERENCES keeps at most
// MaxDummiesPerMessage IDs per message that no message in the set has (a reference beyond
// that is left out of its chain), and its loop check walks at most MaxThreadDepth
// ancestors, refusing a link it cannot clear within that (the message then starts a thread
// of its own; only a message that already has replies, linked below a parent that deep, is
// affected); every walk of a thread tree is iterative, so no depth of tree can exhaust the
// stack. Sort is O(n log n) and THREAD REFERENCES is linear in the number of references
// apart from its sorts.
package sortthread
