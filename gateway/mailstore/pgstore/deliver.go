package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// ChunkSize is the size of one body_chunks row. A body up to ChunkSize bytes is one row and
// travels inside the statement batch that stores it; a larger one is streamed with COPY
// before that batch, and read back one chunk at a time.
const ChunkSize = mailstore.InlineLimit

// storedBody is a body about to be stored. A small body has its bytes; a large one has its
// id, its chunks already written in the transaction.
type storedBody struct {
	data       []byte
	id         int64 // 0: small, the id comes from the statement that inserts it
	size       int64
	headerSize int64
}

// bodyIDArg is the argument of a $n::bigint that names the body: nil means the body inserted
// last on this connection (currval), see bodyIDExpr.
func (b storedBody) bodyIDArg() any {
	if b.id == 0 {
		return nil
	}
	return b.id
}

const bodyIDExpr = `coalesce(%s::bigint, currval('bodies_id_seq'))`

// queueBody adds the statement that inserts b's row (and its only chunk when small).
func queueBody(bt *pgx.Batch, b storedBody, refs int) {
	if b.id == 0 {
		bt.Queue(`WITH b AS (INSERT INTO bodies(size, header_size, refs) VALUES ($1, $2, $3) RETURNING id)
			INSERT INTO body_chunks(body_id, seq, data) SELECT id, 0, $4 FROM b`, b.size, b.headerSize, refs, b.data)
		return
	}
	bt.Queue(`INSERT INTO bodies(id, size, header_size, refs) VALUES ($1, $2, $3, $4)`, b.id, b.size, b.headerSize, refs)
}

// prepareBodies reads the small bodies into memory and reports whether any is large.
func prepareBodies(bodies []mailstore.Body) ([]storedBody, bool, error) {
	out := make([]storedBody, len(bodies))
	large := false
	for i, b := range bodies {
		out[i].size = b.Size()
		if out[i].size > ChunkSize {
			large = true
			continue
		}
		data, err := mailstore.ReadBody(b)
		if err != nil {
			return nil, false, err
		}
		if int64(len(data)) != out[i].size {
			return nil, false, fmt.Errorf("pgstore: body is %d bytes, not %d", len(data), out[i].size)
		}
		out[i].data, out[i].headerSize = data, mailstore.HeaderSize(data)
	}
	return out, large, nil
}

// store runs the statements build queues for bodies in one transaction: as one implicit
// transaction (one round trip) when every body is small, else in an explicit one that first
// streams the large bodies' chunks with COPY.
func (s *Store) store(ctx context.Context, bodies []mailstore.Body, build func(bt *pgx.Batch, sb []storedBody), read func(br pgx.BatchResults) error) error {
	sb, large, err := prepareBodies(bodies)
	if err != nil {
		return err
	}
	if !large {
		bt := &pgx.Batch{}
		build(bt, sb)
		return s.batch(ctx, bt, read)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		for i, b := range bodies {
			if sb[i].data != nil || sb[i].size <= ChunkSize {
				continue
			}
			if err := tx.QueryRow(ctx, `SELECT nextval('bodies_id_seq')`).Scan(&sb[i].id); err != nil {
				return err
			}
			hs, err := copyChunks(ctx, tx, sb[i].id, sb[i].size, b.NewReader())
			if err != nil {
				return err
			}
			sb[i].headerSize = hs
		}
		bt := &pgx.Batch{}
		build(bt, sb)
		br := tx.SendBatch(ctx, bt)
		err := read(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// copyChunks streams a large body into body_chunks and returns its header size.
func copyChunks(ctx context.Context, tx pgx.Tx, id, size int64, r io.Reader) (int64, error) {
	src := &chunkSource{id: id, r: r, buf: make([]byte, ChunkSize)}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"body_chunks"}, []string{"body_id", "seq", "data"}, src); err != nil {
		return 0, fmt.Errorf("pgstore: write body: %w", err)
	}
	if src.n != size {
		return 0, fmt.Errorf("pgstore: body is %d bytes, not %d", src.n, size)
	}
	return src.hw.Size(), nil
}

// chunkSource is a pgx.CopyFromSource reading a body one chunk at a time.
type chunkSource struct {
	id   int64
	r    io.Reader
	buf  []byte
	seq  int32
	cur  []byte
	n    int64
	hw   mailstore.HeaderWatcher
	err  error
	done bool
}

func (c *chunkSource) Next() bool {
	if c.done {
		return false
	}
	n, err := io.ReadFull(c.r, c.buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		c.done = true
		err = nil
	}
	if err != nil {
		c.err, c.done = err, true
		return false
	}
	if n == 0 {
		return false
	}
	c.cur = c.buf[:n]
	c.hw.Write(c.cur)
	c.n += int64(n)
	c.seq++
	return true
}

func (c *chunkSource) Values() ([]any, error) { return []any{c.id, c.seq - 1, c.cur}, nil }
func (c *chunkSource) Err() error             { return c.err }

// Deliver stores every copy of d atomically and durably: everything in one transaction,
// sent as one batch when no body is larger than ChunkSize. See the package doc.
func (s *Store) Deliver(ctx context.Context, d mailstore.Delivery) (mailstore.Delivered, error) {
	if d.InternalDate.IsZero() {
		d.InternalDate = s.opts.Now()
	}
	bodies := make([]mailstore.Body, len(d.Copies))
	for i, c := range d.Copies {
		if len(c.Local) == 0 && (c.Outbound == nil || len(c.Outbound.Recipients) == 0) {
			return mailstore.Delivered{}, fmt.Errorf("pgstore: copy %d has no recipient", i)
		}
		bodies[i] = c.Body
	}
	now := s.opts.Now().Unix()
	var out mailstore.Delivered
	build := func(bt *pgx.Batch, sb []storedBody) {
		bt.Queue(`SELECT set_config('sealgate.delivering', 'on', true), set_config('sealgate.delivered', '', true)`)
		if users, names := targets(d); len(users) > 1 {
			// Several mailboxes are locked in one order (by id) before any is changed, so
			// deliveries to the same mailboxes in another order never deadlock.
			bt.Queue(`SELECT count(*) FROM (SELECT 1 FROM mailboxes WHERE (user_id, name) IN
				(SELECT * FROM unnest($1::bigint[], $2::text[])) OR (user_id = ANY($1) AND name = 'INBOX')
				ORDER BY id FOR UPDATE) l`, users, names)
		}
		for i, c := range d.Copies {
			refs := len(c.Local)
			if c.Outbound != nil {
				refs++
			}
			queueBody(bt, sb[i], refs)
			for _, t := range c.Local {
				name := t.Mailbox
				if name == "" {
					name = "INBOX"
				}
				bt.Queue(`WITH mb AS (UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
						WHERE id = (SELECT id FROM mailboxes WHERE user_id = $1 AND name IN ($2, 'INBOX') ORDER BY name = 'INBOX' LIMIT 1)
						RETURNING id, user_id, uidnext - 1 AS uid, highest_modseq),
					ins AS (INSERT INTO messages(mailbox_id, uid, body_id, internal_date, size, modseq)
						SELECT mb.id, mb.uid, `+fmt.Sprintf(bodyIDExpr, "$3")+`, $4, $5, mb.highest_modseq
						FROM (VALUES (1)) v LEFT JOIN mb ON true
						RETURNING mailbox_id, uid)
					SELECT mb.user_id, ins.mailbox_id, ins.uid, set_config('sealgate.delivered',
						current_setting('sealgate.delivered') || mb.user_id || '.' || ins.mailbox_id || '.' || ins.uid || ',', true)
					FROM ins, mb`, t.UserID, name, sb[i].bodyIDArg(), d.InternalDate.UnixMilli(), sb[i].size)
			}
			if c.Outbound != nil {
				bt.Queue(`WITH q AS (INSERT INTO queue(sender, body_id, created, next_attempt, env_id)
						VALUES ($1, `+fmt.Sprintf(bodyIDExpr, "$2")+`, $3, $3, $4) RETURNING id),
					r AS (INSERT INTO queue_rcpts(queue_id, rcpt, updated) SELECT q.id, x, $3 FROM q, (SELECT DISTINCT unnest($5::text[]) x) u)
					SELECT id, set_config('sealgate.delivered', current_setting('sealgate.delivered') || 'q' || id || ',', true) FROM q`,
					c.Outbound.Sender, sb[i].bodyIDArg(), now, d.EnvelopeID, c.Outbound.Recipients)
			}
		}
		if users, _ := targets(d); len(users) > 0 {
			bt.Queue(sqlCheckQuota, users, s.opts.DefaultQuota)
		}
		bt.Queue(`SELECT pg_notify('sealgate', 'd ' || $1 || ' ' || CASE WHEN length(v) > $2 THEN '*' ELSE v END)
			FROM (SELECT current_setting('sealgate.delivered') AS v) x`, s.opts.Node, maxPayload)
	}
	read := func(br pgx.BatchResults) error {
		out = mailstore.Delivered{}
		if _, err := br.Exec(); err != nil {
			return err
		}
		if users, _ := targets(d); len(users) > 1 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for _, c := range d.Copies {
			if _, err := br.Exec(); err != nil {
				return err
			}
			for _, t := range c.Local {
				var a mailstore.Appended
				var uid int64
				if err := br.QueryRow().Scan(&a.UserID, &a.MailboxID, &uid, nil); err != nil {
					return missingMailbox(err, fmt.Sprintf("user %d has no INBOX", t.UserID))
				}
				a.UID = uint32(uid)
				out.Messages = append(out.Messages, a)
			}
			if c.Outbound != nil {
				var id int64
				if err := br.QueryRow().Scan(&id, nil); err != nil {
					return err
				}
				out.QueueIDs = append(out.QueueIDs, id)
			}
		}
		if users, _ := targets(d); len(users) > 0 {
			if _, err := br.Exec(); err != nil {
				return quotaErr(err)
			}
		}
		_, err := br.Exec()
		return err
	}
	if err := s.store(ctx, bodies, build, read); err != nil {
		return mailstore.Delivered{}, err
	}
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(out)
	}
	return out, nil
}

// targets lists the distinct mailboxes (user, name) d delivers to.
func targets(d mailstore.Delivery) ([]int64, []string) {
	type key struct {
		user int64
		name string
	}
	seen := map[key]bool{}
	var users []int64
	var names []string
	for _, c := range d.Copies {
		for _, t := range c.Local {
			k := key{t.UserID, t.Mailbox}
			if k.name == "" {
				k.name = "INBOX"
			}
			if !seen[k] {
				seen[k] = true
				users, names = append(users, k.user), append(names, k.name)
			}
		}
	}
	return users, names
}

// maxPayload is the longest delivery notification; a longer one is sent as "*" (see
// notify.go). PostgreSQL's limit is 8000 bytes.
const maxPayload = 7900

// missingMailbox turns the not-null violation a message insert without a mailbox raises into
// mailstore.ErrNotFound.
func missingMailbox(err error, what string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23502" && pgErr.TableName == "messages" {
		return fmt.Errorf("pgstore: %s: %w", what, mailstore.ErrNotFound)
	}
	return err
}

// Append stores a message in a mailbox durably and returns the mailbox's UIDVALIDITY and the
// message's UID.
func (s *Store) Append(ctx context.Context, r mailstore.AppendRequest) (uint32, uint32, error) {
	uv, uids, err := s.AppendAll(ctx, []mailstore.AppendRequest{r})
	if err != nil {
		return 0, 0, err
	}
	return uv, uids[0], nil
}

// AppendAll stores messages in one mailbox in one transaction (IMAP MULTIAPPEND): all of
// them or, on any error (over quota among them), none. It returns the mailbox's UIDVALIDITY
// and the messages' UIDs, in order.
func (s *Store) AppendAll(ctx context.Context, rs []mailstore.AppendRequest) (uint32, []uint32, error) {
	if err := mailstore.CheckAppendAll(rs); err != nil {
		return 0, nil, err
	}
	var uidValidity int64
	uids := make([]uint32, len(rs))
	bodies := make([]mailstore.Body, len(rs))
	for i, r := range rs {
		bodies[i] = r.Body
	}
	build := func(bt *pgx.Batch, sb []storedBody) {
		for i, r := range rs {
			date := r.InternalDate
			if date.IsZero() {
				date = s.opts.Now()
			}
			queueBody(bt, sb[i], 1)
			bt.Queue(`WITH mb AS (UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
					WHERE id = $1 AND user_id = $2 RETURNING uidvalidity, uidnext - 1 AS uid, highest_modseq)
				INSERT INTO messages(mailbox_id, uid, body_id, flags, keywords, internal_date, size, modseq)
				SELECT $1, mb.uid, `+fmt.Sprintf(bodyIDExpr, "$3")+`, $4, $5, $6, $7, mb.highest_modseq
				FROM (VALUES (1)) v LEFT JOIN mb ON true
				RETURNING (SELECT uidvalidity FROM mb), uid`,
				r.MailboxID, r.UserID, sb[i].bodyIDArg(), int(r.Flags), mailstore.KeywordsColumn(r.Keywords),
				date.UnixMilli(), sb[i].size)
		}
		bt.Queue(sqlCheckQuota, []int64{rs[0].UserID}, s.opts.DefaultQuota)
	}
	read := func(br pgx.BatchResults) error {
		for i := range rs {
			if _, err := br.Exec(); err != nil {
				return err
			}
			var uid int64
			if err := missingMailbox(br.QueryRow().Scan(&uidValidity, &uid), "append: no such mailbox"); err != nil {
				return err
			}
			uids[i] = uint32(uid)
		}
		if _, err := br.Exec(); err != nil {
			return overQuota(err)
		}
		return nil
	}
	if err := s.store(ctx, bodies, build, read); err != nil {
		return 0, nil, err
	}
	return uint32(uidValidity), uids, nil
}

// OpenBody returns a reader over a stored body and its size. A large body is read one chunk
// per query as the reader is read.
func (s *Store) OpenBody(ctx context.Context, bodyID int64) (io.ReadCloser, int64, error) {
	var size int64
	var first []byte
	err := s.pool.QueryRow(ctx, `SELECT b.size, c.data FROM bodies b
		LEFT JOIN body_chunks c ON c.body_id = b.id AND c.seq = 0 WHERE b.id = $1`, bodyID).Scan(&size, &first)
	if err != nil {
		return nil, 0, notFound(err)
	}
	if int64(len(first)) >= size {
		return io.NopCloser(bytes.NewReader(first)), size, nil
	}
	return &chunkReader{s: s, ctx: ctx, id: bodyID, left: size - int64(len(first)), cur: first, seq: 1}, size, nil
}

// chunkReader reads a large body's chunks in order.
type chunkReader struct {
	s    *Store
	ctx  context.Context
	id   int64
	seq  int32
	cur  []byte
	left int64 // bytes in chunks not fetched yet
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.left <= 0 {
			return 0, io.EOF
		}
		var data []byte
		err := r.s.pool.QueryRow(r.ctx, `SELECT data FROM body_chunks WHERE body_id = $1 AND seq = $2`, r.id, r.seq).Scan(&data)
		if err != nil {
			return 0, fmt.Errorf("pgstore: read body %d chunk %d: %w", r.id, r.seq, notFound(err))
		}
		if len(data) == 0 {
			return 0, fmt.Errorf("pgstore: body %d chunk %d is empty", r.id, r.seq)
		}
		r.seq++
		r.left -= int64(len(data))
		r.cur = data
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *chunkReader) Close() error { r.cur, r.left = nil, 0; return nil }

// InlineBodies returns the bodies with these ids that are one chunk (up to ChunkSize bytes),
// in one query; larger and missing ones are left out, for OpenBody.
func (s *Store) InlineBodies(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT b.id, c.data FROM bodies b JOIN body_chunks c ON c.body_id = b.id AND c.seq = 0
		WHERE b.id = ANY($1) AND b.size <= $2`, ids, ChunkSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return out, mailstore.ScanBodies(rows, out)
}

// MaildropBodies is InlineBodies, for pipelined POP3 RETRs.
func (s *Store) MaildropBodies(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	return s.InlineBodies(ctx, ids)
}

// parseDelivered reads the UIDs and spool ids of a delivery notification (see Deliver).
func parseDelivered(s string) (mailstore.Delivered, bool) {
	var d mailstore.Delivered
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		if q, ok := strings.CutPrefix(f, "q"); ok {
			id, err := strconv.ParseInt(q, 10, 64)
			if err != nil {
				return d, false
			}
			d.QueueIDs = append(d.QueueIDs, id)
			continue
		}
		parts := strings.Split(f, ".")
		if len(parts) != 3 {
			return d, false
		}
		u, err1 := strconv.ParseInt(parts[0], 10, 64)
		mb, err2 := strconv.ParseInt(parts[1], 10, 64)
		uid, err3 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			return d, false
		}
		d.Messages = append(d.Messages, mailstore.Appended{UserID: u, MailboxID: mb, UID: uint32(uid)})
	}
	return d, true
}
