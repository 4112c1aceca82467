package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Options configure Open. The zero value works: the clock is time.Now, the node name is
// random, and nobody is told about changes.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Node names this node: it owns the queue leases it takes, and it tells the change feed's
	// own notifications from other nodes'. Names must differ between nodes sharing a database;
	// "" means a random name, new at every Open.
	Node string
	// OnCommit, if set, is called with what each committed Deliver added: right after the
	// commit for this Store's own deliveries, and from the change feed for those of other
	// nodes. It must not block.
	OnCommit func(mailstore.Delivered)
	// OnChange, if set, is called from the change feed with the user whose mailboxes or
	// messages another change touched (flags, expunge, append, copy, move, mailbox create,
	// delete, rename, subscription), on any node including this one. It must not block.
	OnChange func(userID int64)
	// DefaultQuota is the storage limit in bytes of an account without one of its own
	// (SetQuota); 0 is unlimited. Deliver, Append and CopyMessages enforce it.
	DefaultQuota int64
}

// Store is the PostgreSQL mail store. It is safe for concurrent use.
type Store struct {
	opts   Options
	pool   closablePool
	connCf *pgx.ConnConfig // for the listener and maildrop locks
	policy policyCache

	closed   atomic.Bool
	stop     context.CancelFunc
	listened chan struct{} // closed when the listener has stopped

	mu    sync.Mutex
	locks map[*maildropLock]struct{}
}

// defaultMaxConns is the pool size when the DSN does not set pool_max_conns.
const defaultMaxConns = 16

// storeSettings are the run-time parameters of the store's connections (see Open).
var storeSettings = map[string]string{
	"plan_cache_mode":                 "force_generic_plan",
	"max_parallel_workers_per_gather": "0",
}

// Open connects to the database at dsn, which must hold this Sealgate's schema version
// (Migrate), and starts the change-feed listener.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Node == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		opts.Node = "node-" + hex.EncodeToString(b[:])
	}
	if strings.ContainsAny(opts.Node, " \t\r\n") {
		return nil, fmt.Errorf("pgstore: node name %q contains white space", opts.Node)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	// The node's name goes with every connection: the change feed's triggers read it.
	cfg.ConnConfig.RuntimeParams["sealgate.node"] = opts.Node
	cfg.ConnConfig.RuntimeParams["application_name"] = "sealgate " + opts.Node
	// Every statement is prepared once per connection and run with generic plans: a mail
	// store's statements look up rows by key (a mailbox's UID range, a body id), where the
	// custom plan PostgreSQL otherwise makes at every execution comes out the same and its
	// planning cost more than running it (0.15–0.18 ms of a 0.25 ms FETCH of 50 messages);
	// the text search, whose plan depends on its pattern, is the exception (customPlanned).
	// A generic plan does not know the range a statement asks for and estimates a fixed share
	// of the table (0.5 % for a UID range), which grows with the mailbox: at 1,000,000 messages
	// PostgreSQL chose a parallel bitmap scan for the 50 newest (95 ms instead of 0.2, worker
	// start-up and a sort), so the store's connections plan no parallel query either. A DSN
	// that sets either parameter keeps its own.
	for name, value := range storeSettings {
		if _, ok := cfg.ConnConfig.RuntimeParams[name]; !ok {
			cfg.ConnConfig.RuntimeParams[name] = value
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := checkVersion(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	lctx, stop := context.WithCancel(context.Background())
	s := &Store{
		opts: opts, connCf: cfg.ConnConfig.Copy(), stop: stop,
		listened: make(chan struct{}),
		locks:    map[*maildropLock]struct{}{},
	}
	s.pool = closablePool{Pool: pool, closed: &s.closed}
	ready := make(chan error, 1)
	go s.listen(lctx, ready)
	select {
	case err := <-ready:
		if err != nil {
			stop()
			<-s.listened
			pool.Close()
			return nil, fmt.Errorf("pgstore: listen: %w", err)
		}
	case <-ctx.Done():
		stop()
		<-s.listened
		pool.Close()
		return nil, ctx.Err()
	}
	return s, nil
}

// Close stops the listener, releases the maildrop locks still held and closes the
// connections. Calls made afterwards fail with mailstore.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	<-s.listened
	s.mu.Lock()
	locks := make([]*maildropLock, 0, len(s.locks))
	for l := range s.locks {
		locks = append(locks, l)
	}
	s.mu.Unlock()
	for _, l := range locks {
		l.release()
	}
	s.pool.Close()
	return nil
}

// Dir is "": a PostgreSQL store has no data directory.
func (s *Store) Dir() string { return "" }

// Node is this node's name (Options.Node, or the random one chosen by Open).
func (s *Store) Node() string { return s.opts.Node }

// maxAttempts bounds the retries of a transaction that lost a deadlock or a serialization
// conflict with another node.
const maxAttempts = 8

// retryable reports errors after which the whole transaction may simply run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// tx runs fn in a transaction and commits it, again from the start if it lost a deadlock.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return mailstore.ErrClosed
	}
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if attempt < maxAttempts && retryable(err) {
			continue
		}
		return s.pool.closedErr(err)
	}
}

// batch sends b as one implicit transaction (one round trip once its statements are
// prepared on the connection) and hands the results to read; again if it lost a deadlock.
func (s *Store) batch(ctx context.Context, b *pgx.Batch, read func(br pgx.BatchResults) error) error {
	if s.closed.Load() {
		return mailstore.ErrClosed
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			b = requeued(b)
		}
		br := s.pool.SendBatch(ctx, b)
		err := read(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if attempt < maxAttempts && retryable(err) {
			continue
		}
		return s.pool.closedErr(err)
	}
}

// requeued is a new Batch of b's statements. pgx keeps the prepared statement of each queued
// query on the Batch and deallocates the statements of a batch that failed; sending the same
// Batch again would name statements the server no longer has (SQLSTATE 26000).
func requeued(b *pgx.Batch) *pgx.Batch {
	nb := &pgx.Batch{}
	for _, q := range b.QueuedQueries {
		nb.Queue(q.SQL, q.Arguments...)
	}
	return nb
}

// closablePool is the Store's pool: once the Store is closed, what it runs fails with
// mailstore.ErrClosed rather than the pool's own errors.
type closablePool struct {
	*pgxpool.Pool
	closed *atomic.Bool
}

func (p closablePool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p.closed.Load() {
		return nil, mailstore.ErrClosed
	}
	rows, err := p.Pool.Query(ctx, sql, args...)
	return rows, p.closedErr(err)
}

func (p closablePool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if p.closed.Load() {
		return closableRow{p: p}
	}
	return closableRow{p.Pool.QueryRow(ctx, sql, args...), p}
}

func (p closablePool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p.closed.Load() {
		return pgconn.CommandTag{}, mailstore.ErrClosed
	}
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, p.closedErr(err)
}

func (p closablePool) Begin(ctx context.Context) (pgx.Tx, error) {
	return p.BeginTx(ctx, pgx.TxOptions{})
}

func (p closablePool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if p.closed.Load() {
		return nil, mailstore.ErrClosed
	}
	tx, err := p.Pool.BeginTx(ctx, opts)
	return tx, p.closedErr(err)
}

// closedErr is mailstore.ErrClosed in place of err when err says the pool had no connection
// to give because the Store was closed meanwhile (the pool was closed, or a connection it
// was opening was cancelled). Statements that ran keep their own errors: Close waits for
// connections in use, so they finished.
func (p closablePool) closedErr(err error) error {
	if err == nil || !p.closed.Load() {
		return err
	}
	var connectErr *pgconn.ConnectError
	if errors.Is(err, puddle.ErrClosedPool) || errors.As(err, &connectErr) {
		return mailstore.ErrClosed
	}
	return err
}

// closableRow is a closablePool's pgx.Row.
type closableRow struct {
	row pgx.Row // nil: the Store was closed before the query
	p   closablePool
}

func (r closableRow) Scan(dest ...any) error {
	if r.row == nil {
		return mailstore.ErrClosed
	}
	return r.p.closedErr(r.row.Scan(dest...))
}

// notFound turns "no rows" into mailstore.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return mailstore.ErrNotFound
	}
	return err
}

// uid32s converts UIDs to the int64 slice PostgreSQL's bigint[] takes.
func uid32s(uids []uint32) []int64 {
	out := make([]int64, len(uids))
	for i, u := range uids {
		out[i] = int64(u)
	}
	return out
}

func (s *Store) readPolicyVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT n FROM policy_version WHERE id = 1`).Scan(&v)
	return v, err
}

var _ mailstore.Backend = (*Store)(nil)
