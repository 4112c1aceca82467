package mailstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
)

// Check verifies the store's consistency and returns every problem found (none: nil): the
// database's own integrity and foreign keys, body reference counts, body files, UIDNEXT above
// every UID, quota usage counters, and spool entries with a body and recipients. It only reads.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	if s.rdb.closed.Load() {
		return nil, ErrClosed
	}
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	// A connection of its own, opened for the check: pooled readers keep per-connection
	// caches (FTS5's among them) that the check must not trust.
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r string
		rows.Scan(&r)
		if r != "ok" {
			add("database: %s", r)
		}
	}
	rows.Close()
	fk, err := conn.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return nil, err
	}
	for fk.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fkid int
		fk.Scan(&table, &rowid, &parent, &fkid)
		add("database: a row of %s refers to a missing %s", table, parent)
	}
	fk.Close()

	queries := []struct {
		q    string
		what string
	}{
		{`SELECT b.id, b.refs, (SELECT count(*) FROM messages m WHERE m.body_id = b.id) + (SELECT count(*) FROM queue q WHERE q.body_id = b.id)
			FROM bodies b`, "refs"},
		{`SELECT m.mailbox_id, m.uid, 0 FROM messages m LEFT JOIN bodies b ON b.id = m.body_id WHERE b.id IS NULL`, "message without body"},
		{`SELECT q.id, 0, 0 FROM queue q LEFT JOIN bodies b ON b.id = q.body_id WHERE b.id IS NULL`, "spool entry without body"},
		{`SELECT q.id, 0, 0 FROM queue q WHERE NOT EXISTS (SELECT 1 FROM queue_rcpts r WHERE r.queue_id = q.id)`, "spool entry without recipients"},
		{`SELECT mb.id, mb.uidnext, (SELECT max(uid) FROM messages m WHERE m.mailbox_id = mb.id) FROM mailboxes mb
			WHERE mb.uidnext <= (SELECT coalesce(max(uid), 0) FROM messages m WHERE m.mailbox_id = mb.id)`, "uidnext"},
		{`SELECT user_id, used, n FROM (SELECT qu.user_id, qu.used, (SELECT coalesce(sum(m.size), 0)
			FROM mailboxes mb JOIN messages m ON m.mailbox_id = mb.id WHERE mb.user_id = qu.user_id) AS n FROM quotas qu)
			WHERE used != n`, "quota"},
	}
	for _, q := range queries {
		rows, err := conn.QueryContext(ctx, q.q)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var a, b, c sql.NullInt64
			if err := rows.Scan(&a, &b, &c); err != nil {
				rows.Close()
				return nil, err
			}
			switch q.what {
			case "refs":
				if b.Int64 != c.Int64 {
					add("body %d: reference count %d, but %d references", a.Int64, b.Int64, c.Int64)
				}
			case "quota":
				add("account %d: quota usage %d, but its messages take %d", a.Int64, b.Int64, c.Int64)
			case "uidnext":
				add("mailbox %d: UIDNEXT %d is not above its highest UID %d", a.Int64, b.Int64, c.Int64)
			case "message without body":
				add("mailbox %d UID %d: its body is missing", a.Int64, b.Int64)
			default:
				add("%s: %d", q.what, a.Int64)
			}
		}
		rows.Close()
	}
	files, err := conn.QueryContext(ctx, `SELECT id, path, size FROM bodies WHERE path IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer files.Close()
	for files.Next() {
		var id, size int64
		var path string
		if err := files.Scan(&id, &path, &size); err != nil {
			return nil, err
		}
		fi, err := os.Stat(filepath.Join(s.dir, path))
		switch {
		case err != nil:
			add("body %d: file %s: %v", id, path, err)
		case fi.Size() != size:
			add("body %d: file %s has %d bytes, %d expected", id, path, fi.Size(), size)
		}
	}
	return probs, files.Err()
}
