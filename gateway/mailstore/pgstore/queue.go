package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// LeaseDuration is how long an entry handed out by QueueDue stays this node's. A node that
// dies holding leases delays those entries by at most this long; a delivery attempt must
// end well within it (the queue runner's attempt timeout is shorter).
const LeaseDuration = 10 * time.Minute

// ErrLeaseLost is returned by QueueRecord and QueueSettle for an entry that another node
// holds a current lease on (this node's lease expired and was taken over): the outcome is not
// recorded, and the node holding the lease attempts the entry itself.
var ErrLeaseLost = errors.New("pgstore: the queue entry is leased to another node")

func (s *Store) queryQueue(ctx context.Context, where string, args ...any) ([]mailstore.QueueEntry, error) {
	rows, err := s.pool.Query(ctx, mailstore.QueueSelect+" "+where+` ORDER BY q.id, r.rcpt COLLATE "C"`, args...)
	return sqlrows.Read(rows, err, mailstore.ScanQueueEntries)
}

// QueueEntries lists the outbound spool, oldest first.
func (s *Store) QueueEntries(ctx context.Context) ([]mailstore.QueueEntry, error) {
	return s.queryQueue(ctx, "")
}

// QueueEntry returns one spool entry, or mailstore.ErrNotFound.
func (s *Store) QueueEntry(ctx context.Context, id int64) (mailstore.QueueEntry, error) {
	es, err := s.queryQueue(ctx, "WHERE q.id = $1", id)
	if err != nil {
		return mailstore.QueueEntry{}, err
	}
	if len(es) == 0 {
		return mailstore.QueueEntry{}, mailstore.ErrNotFound
	}
	return es[0], nil
}

// QueueDue leases up to limit entries that are not held, whose next attempt is at or before
// now and that no other node holds an unexpired lease on, to this node until now plus
// LeaseDuration, and returns their ids, soonest first. Entries another node is claiming at
// the same moment are skipped (FOR UPDATE SKIP LOCKED), so each is handed to one node. This
// node's own leases are renewed and handed out again, as the embedded store hands out every
// due entry.
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	if s.closed.Load() {
		return nil, mailstore.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `UPDATE queue q SET lease_owner = $1, lease_until = $2 + $3::bigint
		FROM (SELECT id FROM queue WHERE NOT held AND next_attempt <= $2
			AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until <= $2)
			ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED) due
		WHERE q.id = due.id RETURNING q.id, q.next_attempt`, s.opts.Node, now.Unix(), int64(LeaseDuration/time.Second), limit)
	if err != nil {
		return nil, err
	}
	type due struct{ id, next int64 }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		err := r.Scan(&d.id, &d.next)
		return d, err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b due) int {
		return cmp.Or(cmp.Compare(a.next, b.next), cmp.Compare(a.id, b.id))
	})
	ids := make([]int64, len(list))
	for i, d := range list {
		ids[i] = d.id
	}
	return ids, nil
}

// QueueLen counts the spool entries.
func (s *Store) QueueLen(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&n)
	return n, err
}

// leased locks entry id and checks that no other node holds a current lease on it:
// mailstore.ErrNotFound when the entry is gone, ErrLeaseLost when another node's lease is
// current. This node's own lease, an expired one and none at all (the CLI settling an entry,
// as in a delete with a bounce) let the change through: nobody else is delivering the entry.
func (s *Store) leased(ctx context.Context, tx pgx.Tx, id int64, now time.Time) error {
	var owner *string
	var until *int64
	err := tx.QueryRow(ctx, `SELECT lease_owner, lease_until FROM queue WHERE id = $1 FOR UPDATE`, id).Scan(&owner, &until)
	if err != nil {
		return notFound(err)
	}
	if owner != nil && *owner != s.opts.Node && until != nil && *until > now.Unix() {
		return fmt.Errorf("pgstore: queue entry %d is leased to node %s until %s: %w", id, *owner,
			unixTime(*until).UTC().Format(time.RFC3339), ErrLeaseLost)
	}
	return nil
}

// QueueRecord durably records outcomes for recipients of entry id, unless another node has
// leased it (see QueueDue): each listed recipient that is still pending takes the given State
// (RcptPending keeps it pending with a new LastError). Recipients that are no longer pending
// are left alone, so a delivered recipient can never be made pending again. It returns
// mailstore.ErrNotFound when the entry is gone and ErrLeaseLost when another node holds it.
func (s *Store) QueueRecord(ctx context.Context, id int64, outcomes []mailstore.QueueRecipient) error {
	now := s.opts.Now()
	for _, o := range outcomes {
		switch o.State {
		case mailstore.RcptPending, mailstore.RcptDelivered, mailstore.RcptBouncing:
		default:
			return fmt.Errorf("pgstore: cannot record state %q", o.State)
		}
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.leased(ctx, tx, id, now); err != nil {
			return err
		}
		rcpts, states, errs := make([]string, len(outcomes)), make([]string, len(outcomes)), make([]string, len(outcomes))
		for i, o := range outcomes {
			rcpts[i], states[i], errs[i] = o.Address, o.State, o.LastError
		}
		_, err := tx.Exec(ctx, `UPDATE queue_rcpts r SET state = v.state, last_error = v.err, updated = $2
			FROM unnest($3::text[], $4::text[], $5::text[]) AS v(rcpt, state, err)
			WHERE r.queue_id = $1 AND r.rcpt = v.rcpt AND r.state = 'pending'`, id, now.Unix(), rcpts, states, errs)
		return err
	})
}

// QueueSettle applies st to entry id atomically, unless another node has leased it: attempt
// count and schedule, the bounce and its recipients' move to failed, and the removal of the
// entry when nothing is left to do. An entry that stays is released for any node to lease
// when it is next due. It reports whether the entry was removed. A recipient in Bounced
// that is not bouncing fails the whole call, so a DSN is never stored twice.
func (s *Store) QueueSettle(ctx context.Context, id int64, st mailstore.Settle) (done bool, err error) {
	for _, b := range []*mailstore.Bounce{st.Bounce, st.Warning} {
		if b != nil && (b.Local == nil) == (b.Remote == "") {
			return false, errors.New("pgstore: a bounce goes to exactly one of a local mailbox or a remote sender")
		}
	}
	now := s.opts.Now()
	err = s.tx(ctx, func(tx pgx.Tx) error {
		done = false
		if err := s.leased(ctx, tx, id, now); err != nil {
			return err
		}
		if bounced := st.BouncedOnce(); len(bounced) > 0 {
			tag, err := tx.Exec(ctx, `UPDATE queue_rcpts SET state = 'failed', updated = $1
				WHERE queue_id = $2 AND rcpt = ANY($3) AND state = 'bouncing'`, now.Unix(), id, bounced)
			if err != nil {
				return err
			}
			if int(tag.RowsAffected()) != len(bounced) {
				return fmt.Errorf("pgstore: a recipient of queue entry %d in %v is not bouncing", id, st.Bounced)
			}
		}
		if st.Bounce != nil {
			if err := storeBounce(ctx, tx, st.Bounce, now); err != nil {
				return err
			}
		}
		if st.Warning != nil {
			tag, err := tx.Exec(ctx, `INSERT INTO queue_warned(queue_id) VALUES ($1) ON CONFLICT DO NOTHING`, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				if err := storeBounce(ctx, tx, st.Warning, now); err != nil {
					return err
				}
			}
		}
		var next *int64
		if !st.NextAttempt.IsZero() {
			n := st.NextAttempt.Unix()
			next = &n
		}
		var open int
		err := tx.QueryRow(ctx, `UPDATE queue SET attempts = attempts + CASE WHEN $2 THEN 1 ELSE 0 END,
			last_error = CASE WHEN $2 THEN $3 ELSE last_error END,
			next_attempt = coalesce($4, next_attempt), lease_owner = NULL, lease_until = NULL
			WHERE id = $1 RETURNING (SELECT count(*) FROM queue_rcpts WHERE queue_id = $1 AND state IN ('pending', 'bouncing'))`,
			id, st.Attempted, st.LastError, next).Scan(&open)
		if err != nil {
			return err
		}
		if open == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM queue WHERE id = $1`, id); err != nil {
				return err
			}
			done = true
		}
		return nil
	})
	return done, err
}

// storeBounce stores a notification: into a local INBOX, or as a new spool entry with the
// null sender.
func storeBounce(ctx context.Context, tx pgx.Tx, b *mailstore.Bounce, now time.Time) error {
	var bodyID int64
	if err := tx.QueryRow(ctx, `WITH b AS (INSERT INTO bodies(size, header_size, refs) VALUES ($1, $2, 1) RETURNING id),
		c AS (INSERT INTO body_chunks(body_id, seq, data) SELECT id, 0, $3 FROM b) SELECT id FROM b`,
		len(b.Body), mailstore.HeaderSize(b.Body), b.Body).Scan(&bodyID); err != nil {
		return err
	}
	if b.Local != nil {
		name := b.Local.Mailbox
		if name == "" {
			name = "INBOX"
		}
		_, err := tx.Exec(ctx, `WITH mb AS (UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
				WHERE id = (SELECT id FROM mailboxes WHERE user_id = $1 AND name IN ($2, 'INBOX') ORDER BY name = 'INBOX' LIMIT 1)
				RETURNING id, uidnext - 1 AS uid, highest_modseq)
			INSERT INTO messages(mailbox_id, uid, body_id, internal_date, size, modseq)
			SELECT mb.id, mb.uid, $3, $4, $5, mb.highest_modseq FROM (VALUES (1)) v LEFT JOIN mb ON true`,
			b.Local.UserID, name, bodyID, now.UnixMilli(), len(b.Body))
		return missingMailbox(err, fmt.Sprintf("user %d has no INBOX", b.Local.UserID))
	}
	_, err := tx.Exec(ctx, `WITH q AS (INSERT INTO queue(sender, body_id, created, next_attempt) VALUES ('', $1, $2, $2) RETURNING id)
		INSERT INTO queue_rcpts(queue_id, rcpt, updated) SELECT id, $3, $2 FROM q`, bodyID, now.Unix(), b.Remote)
	return err
}

// QueueSetHeld holds or releases an entry. A held entry is neither attempted nor bounced.
func (s *Store) QueueSetHeld(ctx context.Context, id int64, held bool) error {
	return s.execOne(ctx, `UPDATE queue SET held = $1 WHERE id = $2`, held, id)
}

// QueueRetry makes an entry due at now. A held entry is not changed: mailstore.ErrQueueHeld.
func (s *Store) QueueRetry(ctx context.Context, id int64, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var held bool
		if err := tx.QueryRow(ctx, `SELECT held FROM queue WHERE id = $1 FOR UPDATE`, id).Scan(&held); err != nil {
			return notFound(err)
		}
		if held {
			return mailstore.ErrQueueHeld
		}
		_, err := tx.Exec(ctx, `UPDATE queue SET next_attempt = $1 WHERE id = $2`, now.Unix(), id)
		return err
	})
}

// QueueFlush makes every entry that is not held due at now and returns how many it changed.
func (s *Store) QueueFlush(ctx context.Context, now time.Time) (int, error) {
	if s.closed.Load() {
		return 0, mailstore.ErrClosed
	}
	tag, err := s.pool.Exec(ctx, `UPDATE queue SET next_attempt = $1 WHERE NOT held AND next_attempt > $1`, now.Unix())
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// QueueDelete removes an entry without notifying anyone.
func (s *Store) QueueDelete(ctx context.Context, id int64) error {
	return s.execOne(ctx, `DELETE FROM queue WHERE id = $1`, id)
}
