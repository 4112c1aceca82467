package pgstore

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Maildrop reads the user's INBOX as POP3 sees it, in one statement (one snapshot).
func (s *Store) Maildrop(ctx context.Context, userID int64) (mailstore.Maildrop, error) {
	rows, err := s.pool.Query(ctx, `SELECT mb.id, mb.uidvalidity, m.uid, m.body_id, m.size
		FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id
			AND NOT EXISTS (SELECT 1 FROM pop3_hidden h WHERE h.mailbox_id = m.mailbox_id AND h.uid = m.uid)
		WHERE mb.user_id = $1 AND mb.name = 'INBOX' ORDER BY m.uid`, userID)
	if err != nil {
		return mailstore.Maildrop{}, err
	}
	defer rows.Close()
	var d mailstore.Maildrop
	found := false
	for rows.Next() {
		var uv int64
		var uid, bodyID, size *int64
		if err := rows.Scan(&d.MailboxID, &uv, &uid, &bodyID, &size); err != nil {
			return mailstore.Maildrop{}, err
		}
		d.UIDValidity, found = uint32(uv), true
		if uid != nil {
			d.Messages = append(d.Messages, mailstore.MaildropMessage{UID: uint32(*uid), BodyID: *bodyID, Size: *size})
		}
	}
	if err := rows.Err(); err != nil {
		return mailstore.Maildrop{}, err
	}
	if !found {
		return mailstore.Maildrop{}, mailstore.ErrNotFound
	}
	return d, nil
}

// UpdateMaildrop applies a POP3 session's changes in one transaction (one batch). Messages
// that are gone already (expunged over IMAP meanwhile) are skipped.
func (s *Store) UpdateMaildrop(ctx context.Context, u mailstore.MaildropUpdate) error {
	if len(u.Seen)+len(u.Hide)+len(u.Expunge) == 0 {
		return nil
	}
	bt := &pgx.Batch{}
	bt.Queue(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq`, u.MailboxID)
	if len(u.Seen) > 0 {
		bt.Queue(`UPDATE messages SET flags = flags | $1, modseq = (SELECT highest_modseq FROM mailboxes WHERE id = $2)
			WHERE mailbox_id = $2 AND uid = ANY($3) AND flags & $1 = 0`, int(mailstore.FlagSeen), u.MailboxID, uid32s(u.Seen))
	}
	if len(u.Hide) > 0 {
		bt.Queue(`INSERT INTO pop3_hidden(mailbox_id, uid) SELECT mailbox_id, uid FROM messages
			WHERE mailbox_id = $1 AND uid = ANY($2) ON CONFLICT DO NOTHING`, u.MailboxID, uid32s(u.Hide))
	}
	if len(u.Expunge) > 0 {
		bt.Queue(`DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)`, u.MailboxID, uid32s(u.Expunge))
	}
	return s.batch(ctx, bt, func(br pgx.BatchResults) error {
		var modseq int64
		if err := br.QueryRow().Scan(&modseq); err != nil {
			return notFound(err)
		}
		return execAll(bt.Len() - 1)(br)
	})
}

// maildropLockClass keys the advisory locks of POP3 maildrops: one lock per user id.
const maildropLockClass = "sealgate.maildrop"

// LockMaildrop takes the POP3 maildrop lock of a user, for every node sharing the database:
// a PostgreSQL advisory lock on a connection of its own, held until release is called, the
// Store is closed, or the connection or the node dies. It fails with mailstore.ErrInUse when
// another session holds the lock. release may be called more than once.
func (s *Store) LockMaildrop(ctx context.Context, userID int64) (release func(), err error) {
	if s.closed.Load() {
		return nil, mailstore.ErrClosed
	}
	conn, err := pgx.ConnectConfig(ctx, s.connCf)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, $2))`, maildropLockClass, userID).Scan(&got); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	if !got {
		conn.Close(context.Background())
		return nil, mailstore.ErrInUse
	}
	l := &maildropLock{s: s, conn: conn, userID: userID}
	s.mu.Lock()
	s.locks[l] = struct{}{}
	s.mu.Unlock()
	return l.release, nil
}

type maildropLock struct {
	s      *Store
	conn   *pgx.Conn
	userID int64
	once   sync.Once
}

// release unlocks before closing: the server drops a closed session's locks only once the
// backend has exited, which another node could otherwise see as still in use.
func (l *maildropLock) release() {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l.conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, $2))`, maildropLockClass, l.userID)
		l.conn.Close(ctx)
		l.s.mu.Lock()
		delete(l.s.locks, l)
		l.s.mu.Unlock()
	})
}
