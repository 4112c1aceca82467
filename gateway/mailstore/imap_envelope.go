package mailstore

import (
	"context"
	"database/sql"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// Envelope is the stored ENVELOPE of one message (see imap_envelope in schemaIMAP).
type Envelope struct {
	UID  uint32
	Data []byte
}

// MessagesWithEnvelopes is MessagesInRange with the stored envelopes of those messages, in
// the same query: the envelopes are in UID order, and messages whose envelope is not stored
// yet have none. The query also reads the mailbox's HIGHESTMODSEQ as it saw the messages (0
// when the range holds none), which spares the poll after a FETCH its own read.
func (s *Store) MessagesWithEnvelopes(ctx context.Context, mailboxID int64, lo, hi uint32) ([]Message, []Envelope, uint64, error) {
	rows, err := s.rdb.QueryContext(ctx, MessagesWithEnvelopesQuery("?", "?", "?"), mailboxID, lo, hi)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	return ScanMessagesWithEnvelopes(rows, mailboxID)
}

// HeaderWithoutEnvelope is an indexed body whose envelope is not stored yet, with its raw
// header section (nil when the indexer kept none: the header did not parse).
type HeaderWithoutEnvelope struct {
	BodyID    int64
	RawHeader []byte
}

// HeadersWithoutEnvelope returns up to limit indexed bodies that have no stored envelope:
// those indexed before the envelope table existed.
func (s *Store) HeadersWithoutEnvelope(ctx context.Context, limit int) ([]HeaderWithoutEnvelope, error) {
	rows, err := s.rdb.QueryContext(ctx, headersWithoutEnvelopeQuery, limit)
	return sqlrows.Collect(rows, err, ScanHeaderWithoutEnvelope)
}

// headersWithoutEnvelopeQuery walks imap_search_docsize, FTS5's narrow table of one row per
// indexed body, and reads the raw header only of the bodies it returns. The indexer runs it
// at every start, mostly to find none: walking the content table instead, which holds each
// body's text, read every page of the index (0.5 s at 100,000 messages; at 1,000,000 the
// index is gigabytes). CROSS JOIN keeps SQLite from choosing the content table as the outer
// loop.
const headersWithoutEnvelopeQuery = `SELECT s.id, s.c2 FROM imap_search_docsize d
	CROSS JOIN imap_search_content s ON s.id = d.id
	WHERE NOT EXISTS (SELECT 1 FROM imap_envelope e WHERE e.body_id = d.id)
	AND NOT EXISTS (SELECT 1 FROM imap_search_dead x WHERE x.id = d.id) LIMIT ?`

// BodyEnvelope is the encoded envelope of one body.
type BodyEnvelope struct {
	BodyID int64
	Data   []byte
}

// PutEnvelopes stores envelopes in one transaction. A body deleted meanwhile is skipped.
func (s *Store) PutEnvelopes(ctx context.Context, envs []BodyEnvelope) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, e := range envs {
			if err := putEnvelopeTx(tx, e.BodyID, e.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

func putEnvelopeTx(tx *sql.Tx, bodyID int64, data []byte) error {
	_, err := tx.Exec(`INSERT OR REPLACE INTO imap_envelope(body_id, data)
		SELECT id, ? FROM bodies WHERE id = ?`, data, bodyID)
	return err
}
