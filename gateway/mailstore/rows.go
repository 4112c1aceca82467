package mailstore

import (
	"strings"
	"time"
)

// Rows is the part of a query result (*sql.Rows, pgx.Rows) that the row readers below use.
// The caller still closes the result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
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
		var uid, flags, modseq int64
		var kw string
		if err := rows.Scan(&uid, &flags, &kw, &modseq); err != nil {
			return nil, err
		}
		m := Message{MailboxID: mailboxID, UID: uint32(uid), Flags: Flags(flags), ModSeq: uint64(modseq)}
		if kw != "" {
			m.Keywords = strings.Fields(kw)
		}
		out = append(out, m)
	}
	return out, rows.Err()
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
	in := func(s string) bool { return strings.Contains(strings.ToLower(s), lowerNeedle) }
	switch field {
	case FieldHeader:
		return in(header)
	case FieldText:
		return in(body) || in(header)
	default:
		return in(body)
	}
}
