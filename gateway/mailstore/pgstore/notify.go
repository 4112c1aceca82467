package pgstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The change feed. Every committed change to a user's mail sends one NOTIFY on the channel
// "sealgate", delivered by PostgreSQL to every listening node after the commit:
//
//	d NODE U.MB.UID,...,qID,...   a Deliver by NODE: the messages it added and its spool
//	                              entries ("*" instead when the list is too long)
//	c NODE USERID                 any other change to USERID's mailboxes or messages
//
// Each Store listens on a connection of its own. It passes other nodes' deliveries to
// Options.OnCommit (its own it passes itself, right after the commit) and every "c" to
// Options.OnChange. When the listening connection drops, notifications sent meanwhile are
// lost: once listening again, the Store calls OnChange for every user, so sessions re-read
// their mailboxes, and the queue runners find missed spool entries at their next poll.

// listenerName is the application_name of a node's listening connection.
func listenerName(node string) string { return "sealgate listen " + node }

// listen keeps a listening connection until ctx ends. It reports the first connection's
// outcome on ready.
func (s *Store) listen(ctx context.Context, ready chan<- error) {
	defer close(s.listened)
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		conn, err := s.listenConn(ctx)
		if attempt == 0 {
			ready <- err
			if err != nil {
				return
			}
		}
		if err == nil {
			if attempt > 0 {
				s.resync(ctx)
			}
			backoff = 50 * time.Millisecond
			s.receive(ctx, conn)
			conn.Close(context.Background())
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cf := s.connCf.Copy()
	cf.RuntimeParams["application_name"] = listenerName(s.opts.Node)
	conn, err := pgx.ConnectConfig(ctx, cf)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN sealgate`); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// receive dispatches notifications until the connection fails or ctx ends.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		s.dispatch(ctx, n.Payload)
	}
}

func (s *Store) dispatch(ctx context.Context, payload string) {
	kind, rest, _ := strings.Cut(payload, " ")
	node, data, _ := strings.Cut(rest, " ")
	switch kind {
	case "d":
		if node == s.opts.Node || s.opts.OnCommit == nil {
			return
		}
		d, ok := parseDelivered(data)
		if data == "*" || !ok {
			s.resync(ctx)
			return
		}
		s.opts.OnCommit(d)
	case "c":
		id, err := strconv.ParseInt(data, 10, 64)
		if err == nil && s.opts.OnChange != nil {
			s.opts.OnChange(id)
		}
	}
}

// resync calls OnChange for every user, after notifications may have been lost.
func (s *Store) resync(ctx context.Context) {
	if s.opts.OnChange == nil {
		return
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM users ORDER BY id`)
	if err != nil {
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return
	}
	for _, id := range ids {
		s.opts.OnChange(id)
	}
}

// ListenerPID is the server process id of this Store's listening connection, 0 when it is
// not connected: an operator (or a test) can end it with pg_terminate_backend.
func (s *Store) ListenerPID(ctx context.Context) (int32, error) {
	var pid int32
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = $1`,
		listenerName(s.opts.Node)).Scan(&pid)
	return pid, err
}
