package mailstore

import (
	"context"
	"database/sql"
	"strconv"
)

// schemaPOP3: messages hidden from POP3 by DELE in keep mode. They stay in the mailbox for
// IMAP and web mail; the row goes when the message does, and moves with it when INBOX is
// renamed (schema version 2; see upgrades).
const schemaPOP3 = `
CREATE TABLE IF NOT EXISTS pop3_hidden (
	mailbox_id INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid),
	FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE ON UPDATE CASCADE
) STRICT, WITHOUT ROWID;
`

// Maildrop is a POP3 session's snapshot of a user's INBOX.
type Maildrop struct {
	MailboxID   int64
	UIDValidity uint32
	Messages    []MaildropMessage // in UID order, without messages hidden from POP3
}

// MaildropMessage is one message of a Maildrop.
type MaildropMessage struct {
	UID    uint32
	BodyID int64
	Size   int64
}

// Maildrop reads the user's INBOX as POP3 sees it, in one consistent read.
func (s *Store) Maildrop(ctx context.Context, userID int64) (Maildrop, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Maildrop{}, err
	}
	defer tx.Rollback()
	var d Maildrop
	if err := tx.QueryRow(`SELECT id, uidvalidity FROM mailboxes WHERE user_id = ? AND name = 'INBOX'`, userID).
		Scan(&d.MailboxID, &d.UIDValidity); err != nil {
		if err == sql.ErrNoRows {
			return Maildrop{}, ErrNotFound
		}
		return Maildrop{}, err
	}
	rows, err := tx.Query(`SELECT m.uid, m.body_id, m.size FROM messages m
		WHERE m.mailbox_id = ? AND NOT EXISTS (SELECT 1 FROM pop3_hidden h WHERE h.mailbox_id = m.mailbox_id AND h.uid = m.uid)
		ORDER BY m.uid`, d.MailboxID)
	if err != nil {
		return Maildrop{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var m MaildropMessage
		if err := rows.Scan(&m.UID, &m.BodyID, &m.Size); err != nil {
			return Maildrop{}, err
		}
		d.Messages = append(d.Messages, m)
	}
	return d, rows.Err()
}

// MaildropUpdate is what a POP3 session commits at QUIT.
type MaildropUpdate struct {
	MailboxID int64
	Seen      []uint32 // retrieved: gain \Seen
	Hide      []uint32 // hidden from POP3, kept for IMAP (keep mode)
	Expunge   []uint32 // removed from the mailbox
}

// UpdateMaildrop applies a POP3 session's changes in one transaction. Messages that are gone
// already (expunged over IMAP meanwhile) are skipped.
func (s *Store) UpdateMaildrop(ctx context.Context, u MaildropUpdate) error {
	if len(u.Seen)+len(u.Hide)+len(u.Expunge) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var modseq int64
		if err := tx.QueryRow(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq`,
			u.MailboxID).Scan(&modseq); err != nil {
			return notFound(err)
		}
		// One statement per kind of change, over a JSON array of UIDs: a statement per
		// message was most of a 10,000-message download's QUIT.
		if len(u.Seen) > 0 {
			if _, err := tx.Exec(`UPDATE messages SET flags = flags | ?, modseq = ?
				WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) AND flags & ? = 0`,
				FlagSeen, modseq, u.MailboxID, uidArray(u.Seen), FlagSeen); err != nil {
				return err
			}
		}
		if len(u.Hide) > 0 {
			if _, err := tx.Exec(`INSERT INTO pop3_hidden(mailbox_id, uid) SELECT mailbox_id, uid FROM messages
				WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ON CONFLICT DO NOTHING`,
				u.MailboxID, uidArray(u.Hide)); err != nil {
				return err
			}
		}
		if len(u.Expunge) > 0 {
			if _, err := tx.Exec(`DELETE FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))`,
				u.MailboxID, uidArray(u.Expunge)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(u.Expunge) == 0 {
		return err
	}
	return s.removeDeadFiles(ctx)
}

// uidArray is a JSON array of UIDs, for json_each.
func uidArray(uids []uint32) string {
	b := make([]byte, 0, 8*len(uids)+2)
	b = append(b, '[')
	for i, uid := range uids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(uid), 10)
	}
	return string(append(b, ']'))
}

// MaildropBodies returns the bodies with these ids that are kept inside the database, in one
// query with the same text every time (the ids go in as one JSON array, so the statement is
// not parsed anew for each batch); bodies stored as files and missing ones are left out, for
// OpenBody. For pipelined RETRs.
func (s *Store) MaildropBodies(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	b := make([]byte, 0, 8*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, ']')
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, data FROM bodies
		WHERE path IS NULL AND id IN (SELECT value FROM json_each(?))`, string(b))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return out, ScanBodies(rows, out)
}
