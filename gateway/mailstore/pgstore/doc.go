// Package pgstore is Sealgate's mail store in PostgreSQL, for several gateway nodes sharing
// one database: the same methods, types, semantics and errors as the embedded store
// (package mailstore), plus what several nodes need — a change feed between nodes, a POP3
// maildrop lock that holds across them, and a leased outbound queue.
//
// # Schema
//
// Migrate creates the schema in an empty database and upgrades an older one; the version
// is in schema_version. Open refuses a database without this Sealgate's version: an older
// schema asks the operator to run `sealgate db migrate`, a newer one (written by a newer
// Sealgate) fails with mailstore.ErrSchemaVersion. The schema needs the pg_trgm extension
// (Debian: postgresql-contrib) for the search index.
//
// # Durability and round trips
//
// Deliver is atomic: every copy of a message — bodies, mailbox entries and spool entries —
// is stored in one transaction, and Deliver returns nil once it is committed (with
// PostgreSQL's default synchronous_commit, flushed to its WAL). When no body is larger than
// ChunkSize, that transaction is one pipelined batch of statements: one round trip per
// delivered message once the connection has prepared the statements. Larger bodies are
// streamed into the database with COPY first, in chunks of ChunkSize, and read back one
// chunk at a time by OpenBody, so neither side holds a whole large message in memory.
//
// # Identity
//
// UIDs are taken by incrementing the mailbox's uidnext inside the transaction that adds the
// message, so the row lock orders concurrent additions from every node and no UID is
// assigned twice; a rolled-back transaction returns its UIDs. UIDVALIDITY values come from
// a sequence that never repeats. Bodies are shared by the copies of one Deliver and by
// copied messages, and removed (with their chunks, search text and envelope) by a trigger
// when their last reference goes.
//
// # Several nodes
//
// Each Store has a node name (Options.Node). Committed changes are announced with NOTIFY
// and heard by every node's listener (see notify.go): another node's delivery reaches
// Options.OnCommit, any change to a user's mail reaches Options.OnChange, typically within
// milliseconds. LockMaildrop holds a PostgreSQL advisory lock for the length of a POP3
// session. QueueDue leases spool entries to this node (LeaseDuration); QueueRecord and
// QueueSettle refuse an entry another node holds a current lease on (ErrLeaseLost), so an
// entry is delivered by one node at a time, a dead node's entries are taken over when their
// leases expire, and a
// recipient recorded as delivered is never attempted again.
//
// Transactions that lose a deadlock against another node's are run again from the start.
package pgstore
