package mailstore

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Envelope is the stored ENVELOPE of one message (see imap_envelope in schemaIMAP).
type Envelope struct {
	UID  uint32
	Data []byte
}

// MessagesWithEnvelopes is MessagesInRange with the stored envelopes of those messages, in
// the same query: the envelopes are in UID order, and messages whose envelope is not stored
// yet have none.
func (s *Store) MessagesWithEnvelopes(ctx context.Context, mailboxID int64, lo, hi uint32) ([]Message, []Envelope, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, m.body_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, e.data
		FROM messages m LEFT JOIN imap_envelope e ON e.body_id = m.body_id
		WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`, mailboxID, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var msgs []Message
	var envs []Envelope
	for rows.Next() {
		m := Message{MailboxID: mailboxID}
		var kw string
		var date int64
		var env []byte
		if err := rows.Scan(&m.UID, &m.BodyID, &m.Flags, &kw, &date, &m.Size, &m.ModSeq, &env); err != nil {
			return nil, nil, err
		}
		if kw != "" {
			m.Keywords = strings.Fields(kw)
		}
		m.InternalDate = time.UnixMilli(date)
		msgs = append(msgs, m)
		if env != nil {
			envs = append(envs, Envelope{UID: m.UID, Data: env})
		}
	}
	return msgs, envs, rows.Err()
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
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id, s.c2 FROM imap_search_content s
		WHERE NOT EXISTS (SELECT 1 FROM imap_envelope e WHERE e.body_id = s.id)
		AND NOT EXISTS (SELECT 1 FROM imap_search_dead d WHERE d.id = s.id) LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HeaderWithoutEnvelope
	for rows.Next() {
		var h HeaderWithoutEnvelope
		if err := rows.Scan(&h.BodyID, &h.RawHeader); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

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
