package mailstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/sealgate/sealgate/crypto/mimeutil"
	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// Header fields kept apart for search.
//
// SEARCH FROM, TO, CC, BCC, SUBJECT and HEADER Message-ID look at one header field of every
// message. Read from the search text, each message costs its whole decoded header, and the
// index's row holding it also holds the body text (a page of its own per message). So both
// stores also keep the text of these fields (HeaderFieldText) in a narrow table, one row per
// indexed body and a few dozen bytes each, written with the search text (PutSearchText) and
// filled for bodies indexed before the table existed (FillSearchFields); SearchFieldUIDs
// compares a string with it in the database and returns only the hits.
//
// Every path compares alike: the store's rows, a pending message's text and a header text
// read from the index all go through HeaderFieldText and HeaderFieldMatch.

// searchField is one header field kept apart and the column that holds its text.
type searchField struct{ name, column string }

// searchFields are the header fields kept apart, in column order.
func searchFields() [6]searchField {
	return [6]searchField{{"from", "hdr_from"}, {"to", "hdr_to"}, {"cc", "hdr_cc"}, {"bcc", "hdr_bcc"},
		{"subject", "hdr_subject"}, {"message-id", "hdr_message_id"}}
}

// SearchFieldColumn returns the column that holds header field name's text (compared
// case-insensitively) and whether the store keeps that field apart (SearchFieldUIDs).
func SearchFieldColumn(name string) (string, bool) {
	for _, f := range searchFields() {
		if strings.EqualFold(f.name, name) {
			return f.column, true
		}
	}
	return "", false
}

// SearchFieldColumns lists the kept fields' columns in order, each after prefix, for SQL.
func SearchFieldColumns(prefix string) string {
	var b strings.Builder
	for i, f := range searchFields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix + f.column)
	}
	return b.String()
}

// SearchFieldValues returns the texts of the kept fields of a decoded header text, in column
// order: a string or, for a field the header lacks, nil (NULL).
func SearchFieldValues(header string) []any {
	fs := searchFields()
	out := make([]any, len(fs))
	for i, f := range fs {
		if text, ok := HeaderFieldText(header, f.name); ok {
			out[i] = text
		}
	}
	return out
}

// IsAddressField reports whether header field name holds addresses.
func IsAddressField(name string) bool {
	switch strings.ToLower(name) {
	case "from", "sender", "reply-to", "to", "cc", "bcc":
		return true
	}
	return false
}

// HeaderValues returns the values of the named field (compared case-insensitively) in a
// decoded header text (SearchText.Header: "Name: value" lines), in order.
func HeaderValues(header, name string) []string {
	var out []string
	for line := range strings.SplitSeq(header, "\n") {
		k, val, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(k, name) {
			out = append(out, val)
		}
	}
	return out
}

// HeaderFieldText returns the text compared with a SEARCH string for header field name of a
// decoded header text, and whether the header has that field: the value of every occurrence
// of the field, lower-cased (strings.ToLower), one a line; an address field's value is
// followed by its form without comments (mimeutil.WithoutComments) when that differs, so that
// FROM user@example.org finds "<user (comment) @ example.org>". NUL bytes are left out
// (PostgreSQL's text holds none, and an IMAP string has none).
func HeaderFieldText(header, name string) (string, bool) {
	vals := HeaderValues(header, name)
	if len(vals) == 0 {
		return "", false
	}
	if IsAddressField(name) {
		for _, v := range vals {
			if a := mimeutil.WithoutComments(v); a != v {
				vals = append(vals, a)
			}
		}
	}
	return strings.ReplaceAll(strings.ToLower(strings.Join(vals, "\n")), "\x00", ""), true
}

// HeaderFieldNeedle returns a SEARCH string as it is compared with field texts
// (HeaderFieldText), and whether it can match at all: no value holds a line break or a NUL,
// and in a field's text a line break separates two values.
func HeaderFieldNeedle(needle string) (string, bool) {
	n := strings.ToLower(needle)
	return n, !strings.ContainsAny(n, "\n\x00")
}

// HeaderFieldMatch reports whether a field's text (HeaderFieldText) has a value that contains
// needle, compared case-insensitively as strings.ToLower folds both: the match of SEARCH
// FROM, TO, CC, BCC, SUBJECT and HEADER. The empty string matches every field the header has.
func HeaderFieldMatch(text, needle string) bool {
	n, ok := HeaderFieldNeedle(needle)
	return ok && strings.Contains(text, n)
}

// FieldMatches is what SearchFieldUIDs found in a mailbox, as ascending UIDs: the messages
// whose field matched, and those whose field texts are not stored (not indexed yet, or
// indexed before the fields were kept, until FillSearchFields reaches them), which the caller
// compares itself. Slices, not sets: a search of a large mailbox may match every message.
type FieldMatches struct {
	Hits, Unknown []uint32
}

// Hit reports whether message uid's field matched.
func (fm FieldMatches) Hit(uid uint32) bool {
	_, ok := slices.BinarySearch(fm.Hits, uid)
	return ok
}

// IsUnknown reports whether message uid's field text is not stored.
func (fm FieldMatches) IsUnknown(uid uint32) bool {
	_, ok := slices.BinarySearch(fm.Unknown, uid)
	return ok
}

// ScanFieldMatches reads rows of (uid, unknown), in UID order, into a FieldMatches.
func ScanFieldMatches(rows Rows) (FieldMatches, error) {
	var fm FieldMatches
	for rows.Next() {
		var uid int64
		var unknown bool
		if err := rows.Scan(&uid, &unknown); err != nil {
			return fm, err
		}
		if unknown {
			fm.Unknown = append(fm.Unknown, uint32(uid))
		} else {
			fm.Hits = append(fm.Hits, uint32(uid))
		}
	}
	return fm, rows.Err()
}

// SearchFieldUIDs compares needle with header field name (one SearchFieldColumn knows) of a
// mailbox's messages, as HeaderFieldMatch does.
func (s *Store) SearchFieldUIDs(ctx context.Context, mailboxID int64, name, needle string) (FieldMatches, error) {
	col, ok := SearchFieldColumn(name)
	if !ok {
		return FieldMatches{}, fmt.Errorf("mailstore: header field %q is not kept for search", name)
	}
	n, can := HeaderFieldNeedle(needle)
	// instr compares characters of valid UTF-8 text, which HeaderFieldText and
	// HeaderFieldNeedle make.
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, f.id IS NULL FROM messages m
		LEFT JOIN imap_search_fields f ON f.id = m.body_id
		WHERE m.mailbox_id = ? AND (f.id IS NULL OR ? AND instr(f.`+col+`, ?) > 0) ORDER BY m.uid`, mailboxID, can, n)
	return sqlrows.Read(rows, err, ScanFieldMatches)
}

// fieldsMissingQuery finds indexed bodies without kept fields by walking imap_search_docsize,
// FTS5's narrow table of one row per indexed body, not the content table, which holds each
// body's text: the indexer runs it at every start, mostly to find none.
const fieldsMissingQuery = `SELECT d.id FROM imap_search_docsize d
	WHERE d.id > ? AND NOT EXISTS (SELECT 1 FROM imap_search_fields f WHERE f.id = d.id)
	AND NOT EXISTS (SELECT 1 FROM imap_search_dead x WHERE x.id = d.id) ORDER BY d.id LIMIT ?`

// putSearchFieldsTx stores the kept fields of one body from its decoded header text.
func putSearchFieldsTx(tx *sql.Tx, bodyID int64, header string) error {
	_, err := tx.Exec(`INSERT OR REPLACE INTO imap_search_fields(id, `+SearchFieldColumns("")+`)
		SELECT id, ?, ?, ?, ?, ?, ? FROM bodies WHERE id = ?`, append(SearchFieldValues(header), bodyID)...)
	return err
}

// FillSearchFields stores the kept fields of indexed bodies that have none (indexed by a
// version that did not keep them), from the header text in the index: of the indexed bodies
// with an id above after, in id order, up to limit of those lacking them. It returns the
// highest id it filled (after when none is left).
func (s *Store) FillSearchFields(ctx context.Context, after int64, limit int) (int64, error) {
	ids, err := sqlrows.CollectColumn[int64](s.rdb.QueryContext(ctx, fieldsMissingQuery, after, limit))
	if err != nil || len(ids) == 0 {
		return after, err
	}
	return ids[len(ids)-1], s.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			var h string
			err := tx.QueryRow(`SELECT c0 FROM imap_search_content WHERE id = ?`, id).Scan(&h)
			if err == sql.ErrNoRows {
				continue // removed meanwhile; a deleted body's row is skipped by putSearchFieldsTx
			}
			if err != nil {
				return err
			}
			if err := putSearchFieldsTx(tx, id, h); err != nil {
				return err
			}
		}
		return nil
	})
}
