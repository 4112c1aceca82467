package mailstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/sealgate/sealgate/crypto/changecount"
	"github.com/sealgate/sealgate/crypto/sqlitefile"
	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound      = errors.New("mailstore: not found")
	ErrExists        = errors.New("mailstore: already exists")
	ErrClosed        = errors.New("mailstore: closed")
	ErrInvalidName   = errors.New("mailstore: invalid mailbox name")
	ErrSchemaVersion = errors.New("mailstore: the database was written by a newer Sealgate")
	// ErrNoSpace: the disk is full. Nothing was stored; the same write succeeds once there is
	// space again.
	ErrNoSpace = errors.New("mailstore: no space left on the device")
	ErrInUse   = errors.New("mailstore: maildrop in use")
)

// noSpace marks errors caused by a full disk (ENOSPC, SQLITE_FULL) with ErrNoSpace.
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(err.Error(), "database or disk is full") || strings.Contains(err.Error(), "SQLITE_FULL") {
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return err
}

// InlineLimit is the largest body kept inside the database; larger bodies are files.
const InlineLimit = 1 << 20

// schemaVersion is the version of the database this Sealgate writes; Open upgrades older
// ones (upgrades) and refuses newer ones.
const schemaVersion = 4

// Options configure Open.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnCommit, if set, is called after each committed Deliver with what it added. It runs on
	// the writer goroutine and must not block.
	OnCommit func(Delivered)
	// DefaultQuota is the storage limit in bytes of an account without one of its own
	// (SetQuota); 0 is unlimited. Deliver, Append and CopyMessages enforce it.
	DefaultQuota int64
}

// Store is the embedded mail store. It is safe for concurrent use.
type Store struct {
	dir  string
	dsn  string // for readers of the database
	opts Options
	wdb  *sql.DB // one connection: all writes of this process go through it
	rdb  *readDB // readers
	// openBody is OpenBody's query, prepared once: IMAP and POP3 downloads run it per message.
	openBody *sql.Stmt
	drops    maildropLocks // LockMaildrop
	// wstmts are the writer's prepared statements for the hot write paths (delivery and the
	// group commit's savepoints): preparing costs about as much as running them.
	wstmts stmtCache
	// changes counts changes to the directory in every process (DIR/mail.changes); directory
	// is what this process read of it (see directoryCache).
	changes   *changecount.Counter
	directory directoryCache

	writes   chan *writeReq
	commits  atomic.Int64 // group commits so far, for checkpointLoop
	stopOnce sync.Once
	stopped  chan struct{}
	loopDone chan struct{}
	// purge wakes purgeSearchLoop, which closes purgeDone when it returns.
	purge     chan struct{}
	purgeDone chan struct{}
}

type writeReq struct {
	fn   func(tx *sql.Tx) error
	done chan error
}

// Open opens (creating if needed) the store in dir, which must exist.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "mail.db")
	db, err := sqlitefile.Open(path, sqlitefile.Options{
		// The writer does not checkpoint the WAL at every commit once it is large (the
		// default), which would put copying pages into the database file and its fsync inside
		// a group commit; checkpointLoop does it beside the writer. The limit is a safety net.
		WriterParams: "&_pragma=wal_autocheckpoint(16384)",
		// Readers map the database file instead of copying pages with a system call each: a
		// FETCH of a whole mailbox reads tens of MiB of bodies, far more than SQLite's page
		// cache holds.
		ReaderParams: "&_pragma=mmap_size(268435456)",
	})
	if err != nil {
		return nil, err
	}
	dsn, wdb, rdbConn := db.DSN, db.Writer, db.Reader
	changes, err := changecount.Open(filepath.Join(dir, "mail.changes"))
	if err != nil {
		wdb.Close()
		rdbConn.Close()
		return nil, fmt.Errorf("mailstore: %w", err)
	}
	rdb := &readDB{DB: rdbConn}
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	s := &Store{
		dir: dir, dsn: dsn, opts: opts, wdb: wdb, rdb: rdb, changes: changes,
		writes:    make(chan *writeReq, 1024),
		stopped:   make(chan struct{}),
		loopDone:  make(chan struct{}),
		purge:     make(chan struct{}, 1),
		purgeDone: make(chan struct{}),
	}
	if err := s.migrate(); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("mailstore: open %s: %w", path, err)
	}
	if err := s.wstmts.prepare(wdb, writerStatements...); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("mailstore: open %s: %w", path, err)
	}
	if s.openBody, err = rdb.Prepare(`SELECT data, path, size FROM bodies WHERE id = ?`); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("mailstore: open %s: %w", path, err)
	}
	go s.commitLoop()
	go s.checkpointLoop()
	go s.purgeSearchLoop()
	s.purgeSearchSoon() // what an earlier run left
	return s, nil
}

// checkpointInterval is how often checkpointLoop copies committed pages from the WAL into the
// database file.
const checkpointInterval = 250 * time.Millisecond

// checkpointLoop runs passive WAL checkpoints on a reader connection while commits happen:
// they never block the writer or readers, and a commit is durable in the WAL before it is
// acknowledged either way.
func (s *Store) checkpointLoop() {
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	var done int64
	for {
		select {
		case <-s.stopped:
			return
		case <-t.C:
		}
		if n := s.commits.Load(); n != done {
			done = n
			s.rdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`) // best effort: the next tick retries
		}
	}
}

// Close stops the writer and closes the database. Writes still queued fail with ErrClosed,
// and so does every call made afterwards.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stopped) })
	s.rdb.closed.Store(true)
	<-s.loopDone
	<-s.purgeDone
	s.openBody.Close()
	s.wstmts.close()
	err1 := s.wdb.Close()
	err2 := s.rdb.Close()
	return errors.Join(err1, err2)
}

// readDB is the readers' database. Its queries run as statements prepared once per query
// text (and per connection, which database/sql does), since preparing a statement costs
// SQLite about as much as running a small query. Query texts beyond readStmtLimit (those
// built with IN lists of varying length) are prepared each time.
type readDB struct {
	*sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// closed: the store is closed; queries fail with ErrClosed instead of database/sql's
	// errors about closed databases and statements.
	closed atomic.Bool
}

const readStmtLimit = 128

func (r *readDB) stmt(query string) *sql.Stmt {
	r.mu.Lock()
	st, ok := r.stmts[query]
	full := len(r.stmts) >= readStmtLimit
	r.mu.Unlock()
	if ok || full {
		return st
	}
	// Prepared without the lock: preparing waits for a free connection, and a reader holding
	// one (rows still open) may be asking for another statement.
	st, err := r.DB.Prepare(query)
	if err != nil {
		return nil // the query reports the error itself
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.stmts[query]; ok {
		st.Close()
		return prev
	}
	if r.stmts == nil {
		r.stmts = map[string]*sql.Stmt{}
	}
	r.stmts[query] = st
	return st
}

// QueryContext is sql.DB's, through a prepared statement.
func (r *readDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	var rows *sql.Rows
	var err error
	if st := r.stmt(query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = r.DB.QueryContext(ctx, query, args...)
	}
	return rows, r.closedErr(err)
}

// QueryRowContext is sql.DB's, through a prepared statement.
func (r *readDB) QueryRowContext(ctx context.Context, query string, args ...any) readRow {
	if r.closed.Load() {
		return readRow{r: r}
	}
	if st := r.stmt(query); st != nil {
		return readRow{st.QueryRowContext(ctx, args...), r}
	}
	return readRow{r.DB.QueryRowContext(ctx, query, args...), r}
}

// BeginTx is sql.DB's.
func (r *readDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	tx, err := r.DB.BeginTx(ctx, opts)
	return tx, r.closedErr(err)
}

// closedErr is ErrClosed in place of err once the store is closed (a query that raced with
// Close); a query's own outcome, "no rows", stays.
func (r *readDB) closedErr(err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) && r.closed.Load() {
		return ErrClosed
	}
	return err
}

// readRow is sql.Row of a readDB query.
type readRow struct {
	row *sql.Row // nil: the store was closed before the query
	r   *readDB
}

// Scan is sql.Row's.
func (w readRow) Scan(dest ...any) error {
	if w.row == nil {
		return ErrClosed
	}
	return w.r.closedErr(w.row.Scan(dest...))
}

// Close closes the statements and the database.
func (r *readDB) Close() error {
	r.mu.Lock()
	for _, st := range r.stmts {
		st.Close()
	}
	r.stmts = nil
	r.mu.Unlock()
	return r.DB.Close()
}

// Dir is the data directory of the store.
func (s *Store) Dir() string { return s.dir }

func (s *Store) migrate() error {
	for _, part := range schemaParts() {
		if _, err := s.wdb.Exec(part); err != nil {
			return err
		}
	}
	var v int
	err := s.wdb.QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.wdb.Exec(`INSERT INTO meta(key, value) VALUES ('schema_version', ?), ('uidvalidity_next', ?)`,
			schemaVersion, s.opts.Now().Unix())
		if err != nil {
			return err
		}
	case err != nil:
		return err
	case v > schemaVersion:
		return ErrSchemaVersion
	case v < schemaVersion:
		if err := s.upgrade(); err != nil {
			return fmt.Errorf("upgrade from schema version %d: %w", v, err)
		}
	}
	return s.sweepOrphanBlobs()
}

// sweepOrphanBlobs removes body files that no committed row references (a crash between the
// file's rename and the transaction) and files whose rows were deleted.
func (s *Store) sweepOrphanBlobs() error {
	dead, err := sqlrows.CollectColumn[string](s.wdb.Query(`SELECT path FROM dead_files`))
	if err != nil {
		return err
	}
	for _, p := range dead {
		if err := os.Remove(filepath.Join(s.dir, p)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if _, err := s.wdb.Exec(`DELETE FROM dead_files`); err != nil {
		return err
	}
	// Files older than an hour that no body references are leftovers of a crash. Younger ones
	// may belong to a Deliver in flight in another process.
	cutoff := s.opts.Now().Add(-time.Hour)
	return filepath.WalkDir(filepath.Join(s.dir, "blobs"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.ModTime().After(cutoff) {
			return err
		}
		rel, _ := filepath.Rel(s.dir, path)
		var n int
		if err := s.wdb.QueryRow(`SELECT count(*) FROM bodies WHERE path = ?`, rel).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return os.Remove(path)
		}
		return nil
	})
}

// write runs fn inside the next group commit and returns once that commit is durable (or fn or
// the commit failed). fn must not keep tx.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	select {
	case <-s.stopped:
		return ErrClosed // before the select below, which could pick queueing at random
	default:
	}
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-s.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: returning early would leave the
	// caller unsure whether its write committed.
	select {
	case err := <-req.done:
		return noSpace(err)
	case <-s.loopDone:
		// The writer has stopped after answering every request it took: one queued as
		// Close drained the queue was never run.
		select {
		case err := <-req.done:
			return noSpace(err)
		default:
			return ErrClosed
		}
	}
}

const maxBatch = 256

func (s *Store) commitLoop() {
	defer close(s.loopDone)
	for {
		var first *writeReq
		select {
		case first = <-s.writes:
		case <-s.stopped:
			for {
				select {
				case r := <-s.writes:
					r.done <- ErrClosed
				default:
					return
				}
			}
		}
		s.commitBatch(s.drain([]*writeReq{first}))
	}
}

// drain adds the writes already waiting to batch, up to maxBatch, without blocking.
func (s *Store) drain(batch []*writeReq) []*writeReq {
	for len(batch) < maxBatch {
		select {
		case r := <-s.writes:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch runs batch, and the writes that arrive while it runs, in one transaction: before
// committing, it takes what has queued meanwhile (drain), so the requests that came during the
// statements share the commit and its fsync instead of waiting for the next one.
func (s *Store) commitBatch(batch []*writeReq) {
	tx, err := s.wdb.Begin()
	if err != nil {
		s.resetWriter()
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	// abort gives up the whole batch: the transaction may be gone already (SQLite rolls a
	// transaction back by itself on some errors, a full disk among them), and a savepoint
	// rollback is not trusted then. The writer's connection is replaced.
	abort := func(err error) {
		tx.Rollback()
		s.resetWriter()
		for _, r := range batch {
			r.done <- err
		}
	}
	var errs []error
	for i := 0; i < len(batch); i++ {
		r := batch[i]
		errs = append(errs, nil)
		if _, err := s.wstmts.exec(tx, `SAVEPOINT w`); err != nil {
			abort(err)
			return
		}
		if err := r.fn(tx); err != nil {
			if errors.Is(noSpace(err), ErrNoSpace) {
				abort(err)
				return
			}
			errs[i] = err
			if _, rbErr := s.wstmts.exec(tx, `ROLLBACK TO w`); rbErr != nil {
				abort(errors.Join(err, rbErr))
				return
			}
		}
		if _, err := s.wstmts.exec(tx, `RELEASE w`); err != nil {
			abort(err)
			return
		}
		if i == len(batch)-1 {
			batch = s.drain(batch)
		}
	}
	if err := tx.Commit(); err != nil {
		s.resetWriter()
		for _, r := range batch {
			r.done <- fmt.Errorf("mailstore: commit: %w", err)
		}
		return
	}
	s.commits.Add(1)
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// stmtCache holds statements prepared once on the writer's database, when the store opens
// (preparing later would wait for the writer's only connection, which a transaction holds).
// Within a transaction a cached statement is bound to it with Tx.Stmt, which reuses the
// statement already prepared on that connection, or prepares it on the transaction's own
// connection after resetWriter replaced it.
type stmtCache struct {
	m map[string]*sql.Stmt
}

func (c *stmtCache) prepare(db *sql.DB, queries ...string) error {
	c.m = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.Prepare(q)
		if err != nil {
			c.close()
			return err
		}
		c.m[q] = st
	}
	return nil
}

// get returns the statement for query bound to tx, or nil when query was not prepared.
func (c *stmtCache) get(tx *sql.Tx, query string) *sql.Stmt {
	if st, ok := c.m[query]; ok {
		return tx.Stmt(st)
	}
	return nil
}

func (c *stmtCache) exec(tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := c.get(tx, query); st != nil {
		return st.Exec(args...)
	}
	return tx.Exec(query, args...)
}

func (c *stmtCache) queryRow(tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := c.get(tx, query); st != nil {
		return st.QueryRow(args...)
	}
	return tx.QueryRow(query, args...)
}

func (c *stmtCache) close() {
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// resetWriter closes the writer's connection after a failed transaction. SQLite can leave a
// connection in an error state (a COMMIT that failed with SQLITE_FULL keeps its transaction
// open); the next batch then opens a fresh connection instead of failing forever.
func (s *Store) resetWriter() {
	conn, err := s.wdb.Conn(context.Background())
	if err != nil {
		return
	}
	conn.Raw(func(any) error { return driver.ErrBadConn }) // marks the connection bad: it is closed
	conn.Close()
}

// ValidMailboxName reports whether name may be used as a mailbox name: UTF-8, no control
// characters, hierarchy delimiter "/" with no empty levels, no "." or ".." levels, at most 255
// bytes and 16 levels.
func ValidMailboxName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	if strings.ContainsAny(name, "\x00\r\n\t*%\\") || !isValidUTF8NoControls(name) {
		return false
	}
	levels := strings.Split(name, "/")
	if len(levels) > 16 {
		return false
	}
	for _, l := range levels {
		if l == "" || l == "." || l == ".." || strings.TrimSpace(l) != l {
			return false
		}
	}
	return true
}

func isValidUTF8NoControls(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
