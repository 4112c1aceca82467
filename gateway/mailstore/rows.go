package mailstore

import (
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// Rows and Row are the shared row interfaces (crypto/sqlrows); the scanners below read the
// store's tables through them, for both backends.
type (
	Rows = sqlrows.Rows
	Row  = sqlrows.Row
)

// MailboxColumns are the columns of the mailboxes table ScanMailbox reads, in its order.
const MailboxColumns = `id, user_id, name, special_use, uidvalidity, uidnext, highest_modseq, subscribed`

// ScanMailbox reads a row of MailboxColumns.
func ScanMailbox(row Row) (Mailbox, error) {
	var m Mailbox
	var uv, un, hm int64
	err := row.Scan(&m.ID, &m.UserID, &m.Name, &m.SpecialUse, &uv, &un, &hm, &m.Subscribed)
	m.UIDValidity, m.UIDNext, m.HighestModSeq = uint32(uv), uint32(un), uint64(hm)
	return m, err
}

// MessageColumns are the columns of the messages table (as m) ScanMessage reads, in its
// order: the internal date is in Unix milliseconds, the keywords one space-separated text.
const MessageColumns = `m.uid, m.body_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq`

// ScanMessage reads a row of MessageColumns, then the columns into extra, as a message of
// mailboxID.
func ScanMessage(row Row, mailboxID int64, extra ...any) (Message, error) {
	m := Message{MailboxID: mailboxID}
	var uid, date, modseq, flags int64
	var kw string
	err := row.Scan(append([]any{&uid, &m.BodyID, &flags, &kw, &date, &m.Size, &modseq}, extra...)...)
	m.UID, m.Flags, m.ModSeq = uint32(uid), Flags(flags), uint64(modseq)
	m.Keywords = Keywords(kw)
	m.InternalDate = time.UnixMilli(date)
	return m, err
}

// Keywords splits a stored keywords column; no keywords is nil.
func Keywords(kw string) []string {
	if kw == "" {
		return nil
	}
	return strings.Fields(kw)
}

// ScanPolicySettings reads rows of (scope, key, value) into scope → key → value.
func ScanPolicySettings(rows Rows) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for rows.Next() {
		var scope, k, v string
		if err := rows.Scan(&scope, &k, &v); err != nil {
			return nil, err
		}
		if out[scope] == nil {
			out[scope] = map[string]string{}
		}
		out[scope][k] = v
	}
	return out, rows.Err()
}

// ScanBodies reads rows of (body id, content) into out; an empty body is an empty slice,
// never nil.
func ScanBodies(rows Rows, out map[int64][]byte) error {
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return err
		}
		if data == nil {
			data = []byte{}
		}
		out[id] = data
	}
	return rows.Err()
}

// ScanUnindexed reads rows of (uid, body id, has search text), in UID order, for
// UnindexedSince: the bodies without search text, each once, and the last UID read (after
// when there are no rows).
func ScanUnindexed(rows Rows, after uint32) ([]int64, uint32, error) {
	var ids []int64
	seen := map[int64]bool{}
	last := after
	for rows.Next() {
		var uid, id int64
		var indexed bool
		if err := rows.Scan(&uid, &id, &indexed); err != nil {
			return nil, after, err
		}
		last = uint32(uid)
		if !indexed && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, after, err
	}
	return ids, last, nil
}

// ScanUsers reads rows of (id, address, created in Unix seconds).
func ScanUsers(rows Rows) ([]User, error) {
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.ID, &u.Address, &created); err != nil {
			return nil, err
		}
		u.Created = time.Unix(created, 0)
		out = append(out, u)
	}
	return out, rows.Err()
}

// ScanAliases reads rows of (address key, address, targets) into key → alias.
func ScanAliases(rows Rows) (map[string]Alias, error) {
	out := map[string]Alias{}
	for rows.Next() {
		var k, addr, targets string
		if err := rows.Scan(&k, &addr, &targets); err != nil {
			return nil, err
		}
		out[k] = Alias{Address: addr, Targets: splitTargets(targets)}
	}
	return out, rows.Err()
}

// ScanAlias reads a row of (address, targets).
func ScanAlias(row Row) (Alias, error) {
	var a Alias
	var targets string
	err := row.Scan(&a.Address, &targets)
	a.Targets = splitTargets(targets)
	return a, err
}

// TargetsColumn is an alias's targets as the stores keep them, one a line; ScanAlias and
// ScanAliases read them back.
func TargetsColumn(targets []string) string { return strings.Join(targets, "\n") }

func splitTargets(column string) []string { return strings.Split(column, "\n") }

// QueueSelect is the spool query ScanQueueEntries reads, without its WHERE and ORDER BY
// clauses: one row per recipient.
const QueueSelect = `SELECT q.id, q.sender, q.body_id, q.created, q.next_attempt, q.attempts, q.held,
		q.last_error, q.env_id, r.rcpt, r.state, r.last_error,
		EXISTS (SELECT 1 FROM queue_warned w WHERE w.queue_id = q.id)
		FROM queue q JOIN queue_rcpts r ON r.queue_id = q.id`

// ScanQueueEntries reads the rows of the spool query (one row per recipient, ordered by
// queue id) into entries: id, sender, body id, created and next attempt in Unix seconds,
// attempts, held, last error, envelope id, recipient address, state and last error, warned.
func ScanQueueEntries(rows Rows) ([]QueueEntry, error) {
	var out []QueueEntry
	for rows.Next() {
		var e QueueEntry
		var r QueueRecipient
		var created, next int64
		if err := rows.Scan(&e.ID, &e.Sender, &e.BodyID, &created, &next, &e.Attempts, &e.Held, &e.LastError,
			&e.EnvelopeID, &r.Address, &r.State, &r.LastError, &e.Warned); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == e.ID {
			out[n-1].Recipients = append(out[n-1].Recipients, r)
			continue
		}
		e.Created, e.NextAttempt = time.Unix(created, 0), time.Unix(next, 0)
		e.Recipients = []QueueRecipient{r}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ScanFlagStates reads rows of (uid, flags, keywords, modseq), the part of a message STORE
// and CONDSTORE look at, as messages of mailboxID.
func ScanFlagStates(rows Rows, mailboxID int64) ([]Message, error) {
	var out []Message
	for rows.Next() {
		m, err := ScanFlagState(rows, mailboxID)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ScanFlagState reads one row of (uid, flags, keywords, modseq) as a message of mailboxID.
func ScanFlagState(row Row, mailboxID int64) (Message, error) {
	var uid, flags, modseq int64
	var kw string
	err := row.Scan(&uid, &flags, &kw, &modseq)
	return Message{MailboxID: mailboxID, UID: uint32(uid), Flags: Flags(flags),
		Keywords: Keywords(kw), ModSeq: uint64(modseq)}, err
}

// MessagesWithEnvelopesQuery is MessagesWithEnvelopes's query on both stores, with their
// placeholders for the mailbox id and the UID range: each message row with its stored
// envelope and, from the same snapshot, the mailbox's HIGHESTMODSEQ.
func MessagesWithEnvelopesQuery(mailboxID, lo, hi string) string {
	return `SELECT ` + MessageColumns + `, e.data, mb.highest_modseq
		FROM mailboxes mb JOIN messages m ON m.mailbox_id = mb.id
		LEFT JOIN imap_envelope e ON e.body_id = m.body_id
		WHERE mb.id = ` + mailboxID + ` AND m.uid BETWEEN ` + lo + ` AND ` + hi + ` ORDER BY m.uid`
}

// ScanMessagesWithEnvelopes reads the rows of MessagesWithEnvelopesQuery.
func ScanMessagesWithEnvelopes(rows Rows, mailboxID int64) ([]Message, []Envelope, uint64, error) {
	var msgs []Message
	var envs []Envelope
	var modseq int64
	for rows.Next() {
		var env []byte
		m, err := ScanMessage(rows, mailboxID, &env, &modseq)
		if err != nil {
			return nil, nil, 0, err
		}
		msgs = append(msgs, m)
		if env != nil {
			envs = append(envs, Envelope{UID: m.UID, Data: env})
		}
	}
	return msgs, envs, uint64(modseq), rows.Err()
}

// ScanHeaderWithoutEnvelope reads a row of (body id, raw header).
func ScanHeaderWithoutEnvelope(row Row) (HeaderWithoutEnvelope, error) {
	var h HeaderWithoutEnvelope
	err := row.Scan(&h.BodyID, &h.RawHeader)
	return h, err
}

// ScanUIDSet reads rows of one UID into out.
func ScanUIDSet(rows Rows, out map[uint32]bool) error {
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			return err
		}
		out[uint32(uid)] = true
	}
	return rows.Err()
}

// ScanUIDValues reads rows of (uid, value), such as a message's header text.
func ScanUIDValues[V any](rows Rows) (map[uint32]V, error) {
	out := map[uint32]V{}
	for rows.Next() {
		var uid int64
		var v V
		if err := rows.Scan(&uid, &v); err != nil {
			return nil, err
		}
		out[uint32(uid)] = v
	}
	return out, rows.Err()
}

// MatchSearchText reads rows of (uid, header text, body text) and sets out[uid] for the
// messages whose field (TextContains) contains needle, compared case-insensitively. It is SearchTextUIDs for needles the trigram indexes cannot look up.
func MatchSearchText(rows Rows, field TextField, needle string, out map[uint32]bool) error {
	lower := strings.ToLower(needle)
	for rows.Next() {
		var uid int64
		var h, b string
		if err := rows.Scan(&uid, &h, &b); err != nil {
			return err
		}
		if TextContains(field, h, b, lower) {
			out[uint32(uid)] = true
		}
	}
	return rows.Err()
}

// TextContains reports whether a message's search text (header and body as SearchText holds
// them) contains lowerNeedle, a lower-case string, in its body (FieldBody), its header
// (FieldHeader) or either (FieldText): the match SearchTextUIDs makes, for text not in the
// index.
func TextContains(field TextField, header, body, lowerNeedle string) bool {
	in := func(s string) bool { return containsLower(s, lowerNeedle) }
	switch field {
	case FieldHeader:
		return in(header)
	case FieldText:
		return in(body) || in(header)
	default:
		return in(body)
	}
}
