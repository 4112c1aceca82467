package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// queueSearchFields queues the storing of a body's kept fields from its decoded header text;
// a body deleted meanwhile is skipped.
func queueSearchFields(bt *pgx.Batch, bodyID int64, header string) {
	bt.Queue(`INSERT INTO imap_search_fields(body_id, `+mailstore.SearchFieldColumns("")+`)
		SELECT id, $2, $3, $4, $5, $6, $7 `+liveBody+`
		ON CONFLICT (body_id) DO UPDATE SET (`+mailstore.SearchFieldColumns("")+`) = ROW(`+mailstore.SearchFieldColumns("excluded.")+`)`,
		append([]any{bodyID}, mailstore.SearchFieldValues(header)...)...)
}

// SearchFieldUIDs compares needle with header field name (one mailstore.SearchFieldColumn
// knows) of a mailbox's messages, as mailstore.HeaderFieldMatch does.
func (s *Store) SearchFieldUIDs(ctx context.Context, mailboxID int64, name, needle string) (mailstore.FieldMatches, error) {
	col, ok := mailstore.SearchFieldColumn(name)
	if !ok {
		return mailstore.FieldMatches{}, fmt.Errorf("pgstore: header field %q is not kept for search", name)
	}
	n, can := mailstore.HeaderFieldNeedle(needle)
	if !can {
		n = "" // not compared; PostgreSQL's text takes no NUL
	}
	rows, err := s.pool.Query(ctx, `SELECT m.uid, f.body_id IS NULL FROM messages m
		LEFT JOIN imap_search_fields f ON f.body_id = m.body_id
		WHERE m.mailbox_id = $1 AND (f.body_id IS NULL OR $2::boolean AND strpos(f.`+col+`, $3) > 0)
		ORDER BY m.uid`, mailboxID, can, n)
	return sqlrows.Read(rows, err, mailstore.ScanFieldMatches)
}

// FillSearchFields stores the kept fields of indexed bodies that have none (indexed by a
// version that did not keep them), from the header text in the index: of the indexed bodies
// with an id above after, in id order, up to limit of those lacking them. It returns the
// highest id it filled (after when none is left).
func (s *Store) FillSearchFields(ctx context.Context, after int64, limit int) (int64, error) {
	// The ids first, from the two primary keys alone: the header text is read only for the
	// bodies that lack their fields.
	ids, err := sqlrows.CollectColumn[int64](s.pool.Query(ctx, `SELECT s.body_id FROM imap_search s
		WHERE s.body_id > $1 AND NOT EXISTS (SELECT 1 FROM imap_search_fields f WHERE f.body_id = s.body_id)
		ORDER BY s.body_id LIMIT $2`, after, limit))
	if err != nil || len(ids) == 0 {
		return after, err
	}
	rows, err := s.pool.Query(ctx, `SELECT body_id, header FROM imap_search WHERE body_id = ANY($1)`, ids)
	if err != nil {
		return after, err
	}
	bt := &pgx.Batch{}
	for rows.Next() {
		var id int64
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			rows.Close()
			return after, err
		}
		queueSearchFields(bt, id, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return after, err
	}
	return ids[len(ids)-1], s.batch(ctx, bt, execAll(bt.Len()))
}

// schemaV8 keeps the header fields SEARCH looks at most apart from the search text
// (mailstore's searchfields.go): one narrow row per indexed body, written with its search
// text, so that SEARCH FROM reads this table instead of every message's header text. Bodies
// indexed before it get their rows from the indexer (FillSearchFields).
const schemaV8 = `
CREATE TABLE imap_search_fields (
	body_id        bigint PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
	hdr_from       text,
	hdr_to         text,
	hdr_cc         text,
	hdr_bcc        text,
	hdr_subject    text,
	hdr_message_id text
);
`
