package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrInboxDelete is returned when asked to delete INBOX, which always exists.
var ErrInboxDelete = errors.New("mailstore: INBOX cannot be deleted")

// canonicalName turns any case of "INBOX" into "INBOX" (RFC 9051 §5.1: INBOX is
// case-insensitive), including as the first level of a hierarchical name.
func canonicalName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX" + name[5:]
	}
	return name
}

// CanonicalMailboxName returns name with INBOX (as a name or a first level) in upper case.
func CanonicalMailboxName(name string) string { return canonicalName(name) }

// CreateMailboxes creates name and every missing superior level of it (RFC 9051 §6.3.4).
// It fails with ErrExists when name itself exists.
func (s *Store) CreateMailboxes(ctx context.Context, userID int64, name, specialUse string) (int64, error) {
	name = canonicalName(name)
	if !ValidMailboxName(name) {
		return 0, ErrInvalidName
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := createParentsTx(tx, userID, name, ""); err != nil {
			return err
		}
		var err error
		id, err = createMailboxTx(tx, userID, name, specialUse)
		return err
	})
	return id, err
}

// DeleteMailbox removes a mailbox and its messages. Mailboxes below it in the hierarchy stay.
func (s *Store) DeleteMailbox(ctx context.Context, userID int64, name string) error {
	name = canonicalName(name)
	if name == "INBOX" {
		return ErrInboxDelete
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(tx, `DELETE FROM mailboxes WHERE user_id = ? AND name = ?`, userID, name)
	})
	if err != nil {
		return err
	}
	return s.removeDeadFiles(ctx)
}

// RenameMailbox renames a mailbox and every mailbox below it (RFC 9051 §6.3.6), creating
// missing superior levels of the new name. Renaming INBOX moves its messages into a new
// mailbox and leaves INBOX empty; mailboxes below INBOX are not moved.
func (s *Store) RenameMailbox(ctx context.Context, userID int64, oldName, newName string) error {
	oldName, newName, err := CheckRename(oldName, newName)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var oldID int64
		err := tx.QueryRow(`SELECT id FROM mailboxes WHERE user_id = ? AND name = ?`, userID, oldName).Scan(&oldID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM mailboxes WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
			userID, newName, utf8.RuneCountInString(newName)+1, newName+"/").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		if err := createParentsTx(tx, userID, newName, oldName); err != nil {
			return err
		}
		if oldName == "INBOX" {
			return renameInboxTx(tx, userID, oldID, newName)
		}
		if _, err := tx.Exec(`UPDATE mailboxes SET name = ? || substr(name, ?) WHERE user_id = ? AND substr(name, 1, ?) = ?`,
			newName+"/", utf8.RuneCountInString(oldName)+2, userID, utf8.RuneCountInString(oldName)+1, oldName+"/"); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE mailboxes SET name = ? WHERE id = ?`, newName, oldID)
		return err
	})
}

// createParentsTx creates the missing superior levels of name, except skip.
func createParentsTx(tx *sql.Tx, userID int64, name, skip string) error {
	for _, p := range MailboxParents(name, skip) {
		if _, err := createMailboxTx(tx, userID, p, ""); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	}
	return nil
}

func renameInboxTx(tx *sql.Tx, userID, inboxID int64, newName string) error {
	newID, err := createMailboxTx(tx, userID, newName, "")
	if err != nil {
		return err
	}
	// The messages keep their UIDs: the new mailbox is empty and takes INBOX's UIDNEXT.
	var modseq int64
	if err := tx.QueryRow(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq`,
		inboxID).Scan(&modseq); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE mailboxes SET uidnext = (SELECT uidnext FROM mailboxes WHERE id = ?),
		highest_modseq = ? WHERE id = ?`, inboxID, modseq, newID); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO imap_expunged(mailbox_id, uid, modseq) SELECT mailbox_id, uid, ? FROM messages WHERE mailbox_id = ?`,
		modseq, inboxID); err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE messages SET mailbox_id = ?, modseq = ? WHERE mailbox_id = ?`, newID, modseq, inboxID)
	return err
}

// SetSubscribed marks a mailbox subscribed or not.
func (s *Store) SetSubscribed(ctx context.Context, userID int64, name string, subscribed bool) error {
	name = canonicalName(name)
	return s.write(ctx, func(tx *sql.Tx) error {
		return execOne(tx, `UPDATE mailboxes SET subscribed = ? WHERE user_id = ? AND name = ?`, subscribed, userID, name)
	})
}

// MailboxCounts are the numbers STATUS reports.
type MailboxCounts struct {
	Messages      uint32
	Unseen        uint32
	Deleted       uint32
	Size          int64
	UIDNext       uint32
	UIDValidity   uint32
	HighestModSeq uint64
}

// MailboxStatus counts a mailbox's messages.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (MailboxCounts, error) {
	var c MailboxCounts
	// mailbox_counts (counts.go) holds the figures; a mailbox without a row has no messages.
	err := s.rdb.QueryRowContext(ctx, `SELECT mb.uidnext, mb.uidvalidity, mb.highest_modseq,
		coalesce(c.messages, 0), coalesce(c.unseen, 0), coalesce(c.deleted, 0), coalesce(c.size, 0)
		FROM mailboxes mb LEFT JOIN mailbox_counts c ON c.mailbox_id = mb.id WHERE mb.id = ?`, mailboxID).
		Scan(&c.UIDNext, &c.UIDValidity, &c.HighestModSeq, &c.Messages, &c.Unseen, &c.Deleted, &c.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}
