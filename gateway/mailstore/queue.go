package mailstore

import (
	"context"
	"database/sql"
	"time"
)

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
}

// QueueRecipient is one recipient of a QueueEntry and its delivery state.
type QueueRecipient struct {
	Address   string
	State     string // "pending", "delivered" or "failed"
	LastError string
}

func enqueueTx(tx *sql.Tx, o *Outbound, bodyID int64, envID string, now time.Time) (int64, error) {
	res, err := tx.Exec(`INSERT INTO queue(sender, body_id, created, next_attempt, env_id) VALUES (?, ?, ?, ?, ?)`,
		o.Sender, bodyID, now.Unix(), now.Unix(), envID)
	if err != nil {
		return 0, err
	}
	id, _ := res.LastInsertId()
	for _, r := range o.Recipients {
		if _, err := tx.Exec(`INSERT INTO queue_rcpts(queue_id, rcpt, updated) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, id, r, now.Unix()); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// QueueEntries lists the outbound spool, oldest first.
func (s *Store) QueueEntries(ctx context.Context) ([]QueueEntry, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT q.id, q.sender, q.body_id, q.created, q.next_attempt, q.attempts, q.held,
		q.last_error, q.env_id, r.rcpt, r.state, r.last_error
		FROM queue q JOIN queue_rcpts r ON r.queue_id = q.id ORDER BY q.id, r.rcpt`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueueEntry
	for rows.Next() {
		var e QueueEntry
		var r QueueRecipient
		var created, next int64
		if err := rows.Scan(&e.ID, &e.Sender, &e.BodyID, &created, &next, &e.Attempts, &e.Held, &e.LastError,
			&e.EnvelopeID, &r.Address, &r.State, &r.LastError); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == e.ID {
			out[n-1].Recipients = append(out[n-1].Recipients, r)
			continue
		}
		e.Created, e.NextAttempt = time.Unix(created, 0), time.Unix(next, 0)
		e.Recipients = []QueueRecipient{r}
		out = append(out, e)
	}
	return out, rows.Err()
}
