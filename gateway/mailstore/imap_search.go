package mailstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// SearchText is the searchable form of one body, made by the IMAP server: decoded header
// fields ("Name: value" lines), decoded text parts, and the raw header section.
type SearchText struct {
	BodyID    int64
	Header    string
	Text      string
	RawHeader []byte
	// Envelope is the body's encoded ENVELOPE (see imap_envelope); nil stores none.
	Envelope []byte
}

// Reads that look rows up by body id go to imap_search_content, the FTS5 table's own
// content table (id = rowid; c0, c1, c2 = header, body, raw_header): a plain b-tree lookup
// instead of a virtual-table query per row, several times cheaper for a whole mailbox.

// UnindexedBodies returns up to limit bodies of a mailbox's messages (every mailbox when
// mailboxID is 0) that have no search text yet.
func (s *Store) UnindexedBodies(ctx context.Context, mailboxID int64, limit int) ([]int64, error) {
	q, args := unindexedInMailboxQuery, []any{mailboxID, limit}
	if mailboxID == 0 {
		q, args = unindexedQuery, args[1:]
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	return sqlrows.CollectColumn[int64](rows, err)
}

// The walks over a mailbox's messages that ask whether each body is indexed look in
// imap_search_docsize, FTS5's narrow table of one row per indexed body (it and the content
// table gain and lose their rows together): a look-up in the content table, which holds each
// body's text, reads a page per message, the whole index for a mailbox of 1,000,000 (at every
// start of the indexer, and at the first search of a mailbox).
const (
	unindexedInMailboxQuery = `SELECT DISTINCT m.body_id FROM messages m WHERE m.mailbox_id = ?
		AND NOT EXISTS (SELECT 1 FROM imap_search_docsize WHERE id = m.body_id) LIMIT ?`
	unindexedQuery = `SELECT DISTINCT m.body_id FROM messages m
		WHERE NOT EXISTS (SELECT 1 FROM imap_search_docsize WHERE id = m.body_id) LIMIT ?`
	unindexedSinceQuery = `SELECT m.uid, m.body_id, EXISTS (SELECT 1 FROM imap_search_docsize WHERE id = m.body_id)
		FROM messages m WHERE m.mailbox_id = ? AND m.uid > ? ORDER BY m.uid LIMIT ?`
)

// PutSearchText stores search texts in one transaction. A body deleted meanwhile is skipped.
//
// The FTS5 table is written with one DELETE and one multi-row INSERT for the whole batch, after
// every other statement: FTS5 flushes its pending index data to a new segment at each
// savepoint, and SQLite opens one for each statement that may abort, so a statement per text
// made a segment per message and left the index to merge them, which cost several times the
// indexing itself.
func (s *Store) PutSearchText(ctx context.Context, texts []SearchText) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		live := texts[:0:0]
		for _, t := range texts {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM bodies WHERE id = ?`, t.BodyID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			live = append(live, t)
			if err := putSearchFieldsTx(tx, t.BodyID, t.Header); err != nil {
				return err
			}
			if t.Envelope != nil {
				if err := putEnvelopeTx(tx, t.BodyID, t.Envelope); err != nil {
					return err
				}
			}
		}
		for len(live) > 0 {
			part := live[:min(len(live), searchTextsPerStatement)]
			live = live[len(part):]
			ids := make([]any, len(part))
			rows := make([]any, 0, 4*len(part))
			var del, ins strings.Builder
			del.WriteString(`DELETE FROM imap_search WHERE rowid IN (`)
			ins.WriteString(`INSERT INTO imap_search(rowid, header, body, raw_header) VALUES `)
			for i, t := range part {
				if i > 0 {
					del.WriteByte(',')
					ins.WriteByte(',')
				}
				del.WriteByte('?')
				ins.WriteString(`(?, ?, ?, ?)`)
				ids[i] = t.BodyID
				rows = append(rows, t.BodyID, t.Header, t.Text, t.RawHeader)
			}
			del.WriteByte(')')
			if _, err := tx.Exec(del.String(), ids...); err != nil {
				return err
			}
			if _, err := tx.Exec(ins.String(), rows...); err != nil {
				return err
			}
		}
		return nil
	})
}

// searchTextsPerStatement bounds the rows of one FTS5 statement of PutSearchText (four
// parameters each, far below SQLite's limit of 32,766).
const searchTextsPerStatement = 512

// TextField says which part of the search text SearchTextUIDs looks in.
type TextField int

// Text fields: BODY looks in text parts, TEXT also in the header, HEADER only in the header.
const (
	FieldBody TextField = iota
	FieldText
	FieldHeader
)

// SearchTextUIDs returns the UIDs of a mailbox's indexed messages whose search text contains
// needle, compared case-insensitively. Needles shorter than three characters, which the
// trigram index cannot look up, are compared against the stored text instead.
func (s *Store) SearchTextUIDs(ctx context.Context, mailboxID int64, field TextField, needle string) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	if len([]rune(needle)) < 3 {
		rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, s.c0, s.c1 FROM messages m
			JOIN imap_search_content s ON s.id = m.body_id WHERE m.mailbox_id = ?`, mailboxID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return out, MatchSearchText(rows, field, needle, out)
	}
	cols := map[TextField]string{FieldBody: "{body}", FieldText: "{header body}", FieldHeader: "{header}"}[field]
	match := cols + ` : "` + strings.ReplaceAll(needle, `"`, `""`) + `"`
	// The full-text query runs once and the mailbox's messages are checked against its hits.
	// Written as a join, SQLite walked the mailbox and ran the query again for each message's
	// body (rowid = ? AND MATCH): 0.1 s at 10,000 messages, 20 s at 100,000.
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid FROM messages m WHERE m.mailbox_id = ?
		AND m.body_id IN (SELECT rowid FROM imap_search WHERE imap_search MATCH ?)`, mailboxID, match)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return out, ScanUIDSet(rows, out)
}

// SearchHeaders returns the decoded header text of a mailbox's indexed messages with
// lo <= UID <= hi.
func (s *Store) SearchHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, s.c0 FROM messages m
		JOIN imap_search_content s ON s.id = m.body_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`, mailboxID, lo, hi)
	return sqlrows.Read(rows, err, ScanUIDValues[string])
}

// RawHeaders returns the raw header sections of a mailbox's indexed messages with
// lo <= UID <= hi. Messages not indexed yet are missing from the result.
func (s *Store) RawHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32][]byte, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, s.c2 FROM messages m
		JOIN imap_search_content s ON s.id = m.body_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`, mailboxID, lo, hi)
	return sqlrows.Read(rows, err, ScanUIDValues[[]byte])
}
