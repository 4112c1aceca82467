package pgstore

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// UnindexedBodies returns up to limit bodies of a mailbox's messages (every mailbox when
// mailboxID is 0) that have no search text yet.
func (s *Store) UnindexedBodies(ctx context.Context, mailboxID int64, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT m.body_id FROM messages m
		WHERE ($1 = 0 OR m.mailbox_id = $1) AND NOT EXISTS (SELECT 1 FROM imap_search s WHERE s.body_id = m.body_id)
		LIMIT $2`, mailboxID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// UnindexedSince looks at up to limit messages of a mailbox with a UID above after, in UID
// order, and returns the bodies among them that have no search text yet and the highest UID
// it looked at (after when there is none).
func (s *Store) UnindexedSince(ctx context.Context, mailboxID int64, after uint32, limit int) ([]int64, uint32, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.uid, m.body_id,
		EXISTS (SELECT 1 FROM imap_search s WHERE s.body_id = m.body_id)
		FROM messages m WHERE m.mailbox_id = $1 AND m.uid > $2 ORDER BY m.uid LIMIT $3`, mailboxID, int64(after), limit)
	if err != nil {
		return nil, after, err
	}
	defer rows.Close()
	return mailstore.ScanUnindexed(rows, after)
}

// PutSearchText stores search texts in one transaction. A body deleted meanwhile is skipped.
func (s *Store) PutSearchText(ctx context.Context, texts []mailstore.SearchText) error {
	if len(texts) == 0 {
		return nil
	}
	bt := &pgx.Batch{}
	for _, t := range texts {
		// PostgreSQL text holds only valid UTF-8 without NUL; neither is part of a useful search.
		bt.Queue(`INSERT INTO imap_search(body_id, header, body, raw_header) SELECT id, $2, $3, $4 `+liveBody+`
			ON CONFLICT (body_id) DO UPDATE SET header = excluded.header, body = excluded.body, raw_header = excluded.raw_header`,
			t.BodyID, noNUL(t.Header), noNUL(t.Text), t.RawHeader)
		queueSearchFields(bt, t.BodyID, t.Header)
		if t.Envelope != nil {
			queueEnvelope(bt, t.BodyID, t.Envelope)
		}
	}
	return s.batch(ctx, bt, execAll(bt.Len()))
}

// liveBody is the FROM clause that selects body $1 while it exists, for a row that refers
// to it. Locked FOR KEY SHARE, a body that another transaction is deleting is waited for and
// then skipped; a plain snapshot read would still see it, and the insert would fail on the
// foreign key once the deletion commits (an EXPUNGE on another node while the indexer runs).
const liveBody = `FROM bodies WHERE id = $1 FOR KEY SHARE`

// noNUL makes s storable in a text column: valid UTF-8 without NUL.
func noNUL(s string) string { return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "") }

// execAll reads n results of a batch.
func execAll(n int) func(br pgx.BatchResults) error {
	return func(br pgx.BatchResults) error {
		for range n {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	}
}

// likePattern is a LIKE pattern matching needle anywhere.
func likePattern(needle string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(noNUL(needle)) + "%"
}

// SearchTextUIDs returns the UIDs of a mailbox's indexed messages whose search text contains
// needle, compared case-insensitively. Needles of three characters or more are looked up in
// the trigram indexes; shorter ones, which trigrams cannot find, are compared against the
// stored text of the mailbox's messages.
func (s *Store) SearchTextUIDs(ctx context.Context, mailboxID int64, field mailstore.TextField, needle string) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	if len([]rune(needle)) < 3 {
		rows, err := s.pool.Query(ctx, `SELECT m.uid, s.header, s.body FROM messages m
			JOIN imap_search s ON s.body_id = m.body_id WHERE m.mailbox_id = $1`, mailboxID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return out, mailstore.MatchSearchText(rows, field, needle, out)
	}
	cond := map[mailstore.TextField]string{mailstore.FieldBody: "s.body ILIKE $2",
		mailstore.FieldText: "(s.body ILIKE $2 OR s.header ILIKE $2)", mailstore.FieldHeader: "s.header ILIKE $2"}[field]
	q := `SELECT m.uid FROM imap_search s JOIN messages m ON m.body_id = s.body_id
		WHERE m.mailbox_id = $1 AND ` + cond
	err := s.customPlanned(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, mailboxID, likePattern(needle))
		if err != nil {
			return err
		}
		defer rows.Close()
		return mailstore.ScanUIDSet(rows, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// customPlanned runs fn in a read-only transaction whose statements PostgreSQL plans for
// their parameters' values. The store's connections use generic plans (Open), which suit
// look-ups by key; how many rows a trigram pattern matches depends on the pattern, and the
// generic plan of the text search, which assumes a fixed share, joined a hash of the hits
// with every message row of the database (1.2 s instead of 0.7 at 1,000,000 messages). The
// two more round trips cost less than planning wrongly.
func (s *Store) customPlanned(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// SearchHeaders returns the decoded header text of a mailbox's indexed messages with
// lo <= UID <= hi.
func (s *Store) SearchHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.uid, s.header FROM messages m
		JOIN imap_search s ON s.body_id = m.body_id WHERE m.mailbox_id = $1 AND m.uid BETWEEN $2 AND $3`,
		mailboxID, int64(lo), int64(hi))
	return sqlrows.Read(rows, err, mailstore.ScanUIDValues[string])
}

// RawHeaders returns the raw header sections of a mailbox's indexed messages with
// lo <= UID <= hi. Messages not indexed yet are missing from the result.
func (s *Store) RawHeaders(ctx context.Context, mailboxID int64, lo, hi uint32) (map[uint32][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.uid, s.raw_header FROM messages m
		JOIN imap_search s ON s.body_id = m.body_id WHERE m.mailbox_id = $1 AND m.uid BETWEEN $2 AND $3`,
		mailboxID, int64(lo), int64(hi))
	return sqlrows.Read(rows, err, mailstore.ScanUIDValues[[]byte])
}

// MessagesWithEnvelopes is MessagesInRange with the stored envelopes of those messages and
// the mailbox's HIGHESTMODSEQ, in one statement (mailstore.MessagesWithEnvelopesQuery).
func (s *Store) MessagesWithEnvelopes(ctx context.Context, mailboxID int64, lo, hi uint32) ([]mailstore.Message, []mailstore.Envelope, uint64, error) {
	rows, err := s.pool.Query(ctx, mailstore.MessagesWithEnvelopesQuery("$1", "$2", "$3"), mailboxID, int64(lo), int64(hi))
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	return mailstore.ScanMessagesWithEnvelopes(rows, mailboxID)
}

// HeadersWithoutEnvelope returns up to limit indexed bodies that have no stored envelope.
func (s *Store) HeadersWithoutEnvelope(ctx context.Context, limit int) ([]mailstore.HeaderWithoutEnvelope, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.body_id, s.raw_header FROM imap_search s
		WHERE NOT EXISTS (SELECT 1 FROM imap_envelope e WHERE e.body_id = s.body_id) LIMIT $1`, limit)
	return sqlrows.Collect(rows, err, mailstore.ScanHeaderWithoutEnvelope)
}

// PutEnvelopes stores envelopes in one transaction. A body deleted meanwhile is skipped.
func (s *Store) PutEnvelopes(ctx context.Context, envs []mailstore.BodyEnvelope) error {
	if len(envs) == 0 {
		return nil
	}
	bt := &pgx.Batch{}
	for _, e := range envs {
		queueEnvelope(bt, e.BodyID, e.Data)
	}
	return s.batch(ctx, bt, execAll(bt.Len()))
}

func queueEnvelope(bt *pgx.Batch, bodyID int64, data []byte) {
	bt.Queue(`INSERT INTO imap_envelope(body_id, data) SELECT id, $2 `+liveBody+`
		ON CONFLICT (body_id) DO UPDATE SET data = excluded.data`, bodyID, data)
}

// unixTime is a Unix-seconds column as a time.Time.
func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }
