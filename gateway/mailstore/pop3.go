package mailstore

import (
	"context"
	"database/sql"
)

// schemaPOP3: messages hidden from POP3 by DELE in keep mode. They stay in the mailbox for
// IMAP and web mail; the row goes when the message does.
const schemaPOP3 = `
CREATE TABLE IF NOT EXISTS pop3_hidden (
	mailbox_id INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid),
	FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
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
			return err
		}
		for _, uid := range u.Seen {
			if _, err := tx.Exec(`UPDATE messages SET flags = flags | ?, modseq = ? WHERE mailbox_id = ? AND uid = ? AND flags & ? = 0`,
				FlagSeen, modseq, u.MailboxID, uid, FlagSeen); err != nil {
				return err
			}
		}
		for _, uid := range u.Hide {
			if _, err := tx.Exec(`INSERT INTO pop3_hidden(mailbox_id, uid) SELECT mailbox_id, uid FROM messages
				WHERE mailbox_id = ? AND uid = ? ON CONFLICT DO NOTHING`, u.MailboxID, uid); err != nil {
				return err
			}
		}
		for _, uid := range u.Expunge {
			if _, err := tx.Exec(`DELETE FROM messages WHERE mailbox_id = ? AND uid = ?`, u.MailboxID, uid); err != nil {
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
