package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// The outbound spool. An entry is one copy of a message and the remote recipients it still
// owes. Each recipient moves only forward:
//
//	pending ──▶ delivered                      (the next hop answered 250 to DATA)
//	pending ──▶ bouncing ──▶ failed            (permanent failure; failed once its DSN is stored)
//
// A recipient that is delivered or failed is never attempted again. An entry is deleted in
// the transaction that leaves it with no pending or bouncing recipient, so the spool holds
// only work still to do.

// Recipient states in the spool.
const (
	RcptPending   = "pending"
	RcptDelivered = "delivered"
	// RcptBouncing: failed for good; the delivery status notification is not stored yet. It is
	// stored, and the state becomes failed, in one transaction (QueueSettle).
	RcptBouncing = "bouncing"
	RcptFailed   = "failed"
)

// ErrQueueHeld is returned when a held entry is asked to be retried.
var ErrQueueHeld = errors.New("mailstore: queue entry is held")

// QueueEntry is a spooled copy waiting for remote delivery.
type QueueEntry struct {
	ID          int64
	Sender      string
	BodyID      int64
	Created     time.Time
	NextAttempt time.Time
	Attempts    int
	Held        bool
	LastError   string
	EnvelopeID  string
	Recipients  []QueueRecipient
	// Warned: the sender was told the delivery is delayed.
	Warned bool
}

// QueueRecipient is one recipient of a QueueEntry and its delivery state.
type QueueRecipient struct {
	Address   string
	State     string // RcptPending, RcptDelivered, RcptBouncing or RcptFailed
	LastError string
}

func (s *Store) enqueueTx(tx *sql.Tx, o *Outbound, bodyID int64, envID string, now time.Time) (int64, error) {
	res, err := s.wstmts.exec(tx, sqlInsertQueue,
		o.Sender, bodyID, now.Unix(), now.Unix(), envID)
	if err != nil {
		return 0, err
	}
	id, _ := res.LastInsertId()
	for _, r := range o.Recipients {
		if _, err := s.wstmts.exec(tx, sqlInsertQueueRcpt, id, r, now.Unix()); err != nil {
			return 0, err
		}
	}
	return id, nil
}

type rowQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryQueue(ctx context.Context, db rowQuerier, where string, args ...any) ([]QueueEntry, error) {
	rows, err := db.QueryContext(ctx, QueueSelect+" "+where+" ORDER BY q.id, r.rcpt", args...)
	return sqlrows.Read(rows, err, ScanQueueEntries)
}

// QueueEntries lists the outbound spool, oldest first.
func (s *Store) QueueEntries(ctx context.Context) ([]QueueEntry, error) {
	return queryQueue(ctx, s.rdb, "")
}

// QueueEntry returns one spool entry, or ErrNotFound.
func (s *Store) QueueEntry(ctx context.Context, id int64) (QueueEntry, error) {
	es, err := queryQueue(ctx, s.rdb, "WHERE q.id = ?", id)
	if err != nil {
		return QueueEntry{}, err
	}
	if len(es) == 0 {
		return QueueEntry{}, ErrNotFound
	}
	return es[0], nil
}

// QueueDue returns up to limit ids of entries that are not held and whose next attempt is at
// or before now, soonest first. It reads only the queue_due index.
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id FROM queue WHERE held = 0 AND next_attempt <= ?
		ORDER BY next_attempt, id LIMIT ?`, now.Unix(), limit)
	return sqlrows.CollectColumn[int64](rows, err)
}

// QueueLen counts the spool entries.
func (s *Store) QueueLen(ctx context.Context) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM queue`).Scan(&n)
	return n, err
}

// QueueRecord durably records outcomes for recipients of entry id: each listed recipient that
// is still pending takes the given State (RcptPending keeps it pending with a new LastError).
// Recipients that are no longer pending are left alone, so a delivered recipient can never be
// made pending again. It returns ErrNotFound when the entry is gone (deleted meanwhile).
func (s *Store) QueueRecord(ctx context.Context, id int64, outcomes []QueueRecipient) error {
	now := s.opts.Now().Unix()
	return s.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM queue WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		for _, o := range outcomes {
			switch o.State {
			case RcptPending, RcptDelivered, RcptBouncing:
			default:
				return fmt.Errorf("mailstore: cannot record state %q", o.State)
			}
			if _, err := tx.Exec(`UPDATE queue_rcpts SET state = ?, last_error = ?, updated = ?
				WHERE queue_id = ? AND rcpt = ? AND state = 'pending'`, o.State, o.LastError, now, id, o.Address); err != nil {
				return err
			}
		}
		return nil
	})
}

// Bounce is a delivery status notification stored by QueueSettle. Exactly one of Local and
// Remote is set: the sender's local mailbox, or a remote sender it is spooled to (with the
// null sender, so it can never bounce in turn).
type Bounce struct {
	Body   []byte
	Local  *Target
	Remote string
}

// Settle is what QueueSettle does to one entry, in one transaction.
type Settle struct {
	// Attempted counts a delivery attempt.
	Attempted bool
	// NextAttempt, when not zero, is when the entry is due again.
	NextAttempt time.Time
	// LastError replaces the entry's last error when Attempted.
	LastError string
	// Bounced are the recipients in state bouncing that Bounce reports; they become failed. A
	// nil Bounce with Bounced set fails them without a notification (null sender).
	Bounced []string
	Bounce  *Bounce
	// Warning is a delayed-delivery notice; it is stored only if the entry has had none.
	Warning *Bounce
}

// QueueSettle applies st to entry id atomically: attempt count and schedule, the bounce and
// its recipients' move to failed, and the removal of the entry when nothing is left to do. It
// reports whether the entry was removed. A recipient in Bounced that is not bouncing fails the
// whole call (someone else settled it), so a DSN is never stored twice.
func (s *Store) QueueSettle(ctx context.Context, id int64, st Settle) (done bool, err error) {
	for _, b := range []*Bounce{st.Bounce, st.Warning} {
		if b != nil && (b.Local == nil) == (b.Remote == "") {
			return false, errors.New("mailstore: a bounce goes to exactly one of a local mailbox or a remote sender")
		}
	}
	now := s.opts.Now()
	err = s.write(ctx, func(tx *sql.Tx) error {
		done = false
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM queue WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		for _, r := range st.BouncedOnce() {
			res, err := tx.Exec(`UPDATE queue_rcpts SET state = 'failed', updated = ? WHERE queue_id = ? AND rcpt = ? AND state = 'bouncing'`,
				now.Unix(), id, r)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("mailstore: recipient %s of queue entry %d is not bouncing", r, id)
			}
		}
		if st.Bounce != nil {
			if err := s.storeBounceTx(tx, st.Bounce, now); err != nil {
				return err
			}
		}
		if st.Warning != nil {
			res, err := tx.Exec(`INSERT INTO queue_warned(queue_id) VALUES (?) ON CONFLICT DO NOTHING`, id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if err := s.storeBounceTx(tx, st.Warning, now); err != nil {
					return err
				}
			}
		}
		if st.Attempted {
			if _, err := tx.Exec(`UPDATE queue SET attempts = attempts + 1, last_error = ? WHERE id = ?`, st.LastError, id); err != nil {
				return err
			}
		}
		if !st.NextAttempt.IsZero() {
			if _, err := tx.Exec(`UPDATE queue SET next_attempt = ? WHERE id = ?`, st.NextAttempt.Unix(), id); err != nil {
				return err
			}
		}
		var open int
		if err := tx.QueryRow(`SELECT count(*) FROM queue_rcpts WHERE queue_id = ? AND state IN ('pending', 'bouncing')`, id).Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			if _, err := tx.Exec(`DELETE FROM queue_rcpts WHERE queue_id = ?`, id); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM queue WHERE id = ?`, id); err != nil {
				return err
			}
			done = true
		}
		return nil
	})
	if err == nil && done {
		err = s.removeDeadFiles(ctx)
	}
	return done, err
}

// storeBounceTx stores a notification: into a local INBOX, or as a new spool entry with the
// null sender. Bounces are small (headers only), so they always live in the database.
func (s *Store) storeBounceTx(tx *sql.Tx, b *Bounce, now time.Time) error {
	res, err := tx.Exec(`INSERT INTO bodies(size, header_size, data, path, refs) VALUES (?, ?, ?, NULL, 1)`,
		len(b.Body), HeaderSize(b.Body), b.Body)
	if err != nil {
		return err
	}
	bodyID, _ := res.LastInsertId()
	if b.Local != nil {
		_, err := s.appendTx(tx, *b.Local, bodyID, int64(len(b.Body)), now)
		return err
	}
	_, err = s.enqueueTx(tx, &Outbound{Sender: "", Recipients: []string{b.Remote}}, bodyID, "", now)
	return err
}

// QueueSetHeld holds or releases an entry. A held entry is neither attempted nor bounced.
func (s *Store) QueueSetHeld(ctx context.Context, id int64, held bool) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return execOne(tx, `UPDATE queue SET held = ? WHERE id = ?`, held, id)
	})
}

// QueueRetry makes an entry due at now. A held entry is not changed: ErrQueueHeld.
func (s *Store) QueueRetry(ctx context.Context, id int64, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var held bool
		err := tx.QueryRow(`SELECT held FROM queue WHERE id = ?`, id).Scan(&held)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case held:
			return ErrQueueHeld
		}
		_, err = tx.Exec(`UPDATE queue SET next_attempt = ? WHERE id = ?`, now.Unix(), id)
		return err
	})
}

// QueueFlush makes every entry that is not held due at now and returns how many it changed.
func (s *Store) QueueFlush(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE queue SET next_attempt = ? WHERE held = 0 AND next_attempt > ?`, now.Unix(), now.Unix())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// QueueDelete removes an entry without notifying anyone.
func (s *Store) QueueDelete(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM queue_rcpts WHERE queue_id = ?`, id); err != nil {
			return err
		}
		return execOne(tx, `DELETE FROM queue WHERE id = ?`, id)
	})
	if err != nil {
		return err
	}
	return s.removeDeadFiles(ctx)
}

// execOne runs a statement that must change one row: ErrNotFound when it changes none.
func execOne(tx *sql.Tx, query string, args ...any) error {
	res, err := tx.Exec(query, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
