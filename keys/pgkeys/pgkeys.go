// Package pgkeys is the keyring's PostgreSQL Backend (keys.Backend), for gateway nodes that
// share one database ([storage] backend = "postgres").
//
// It stores exactly what the embedded SQLite backend stores: records with their public key or
// certificate, the secret key only as the keyring sealed it with the master key (never
// unsealed here; the master key itself is never in the database), the audit log and the
// pending key changes. It also keeps the files every node must share (Files: the DKIM keys,
// the SRS secret, the self-signed TLS certificate), secret ones as their owners sealed them.
// Its tables are named keyring_*, so they live beside the mail store's in one database.
//
// # Schema
//
// The schema is versioned: Migrate creates or upgrades it (`sealgate db migrate`), and Open
// refuses a database whose schema is missing, older (run the migration) or newer than this
// Sealgate knows (keys.ErrSchemaVersion).
//
// # Transactions
//
// View runs in a REPEATABLE READ, read-only transaction: every read sees one snapshot. Update
// transactions are serialized with each other across every node, as the embedded backend's
// single writer serializes them: each begins by bumping the change counter in keyring_meta,
// whose row lock it then holds until it commits or rolls back. The counter is the Versioned
// change counter the keyring's cache checks, so a change committed on one node is seen by the
// next lookup on any other.
package pgkeys

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealgate/sealgate/crypto/pgmigrate"
	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/keys"
)

// SchemaVersion is the newest schema version this Sealgate knows: one migration per version.
const SchemaVersion = 2

// ErrNoSchema means the database has no keyring schema, or an older one: `sealgate db migrate`
// creates or upgrades it.
var ErrNoSchema = errors.New("pgkeys: the database has no current keyring schema; run `sealgate db migrate`")

// meta is created before any migration: it holds the schema version and the change counter.
const meta = `
CREATE TABLE IF NOT EXISTS keyring_meta (
	singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	schema_version integer NOT NULL,
	changes        bigint NOT NULL
)`

// migrations[i] upgrades the schema from version i to i+1. Times are Unix nanoseconds (0:
// unset), as in the embedded backend, so records round-trip exactly.
var migrations = [SchemaVersion]string{
	`CREATE TABLE keyring_entries (
		fingerprint   text PRIMARY KEY,
		scheme        text NOT NULL,
		algorithm     text NOT NULL,
		created       bigint NOT NULL,
		expires       bigint NOT NULL,
		revoked       bigint NOT NULL,
		trust         text NOT NULL,
		source        text NOT NULL,
		added         bigint NOT NULL,
		updated       bigint NOT NULL,
		public        bytea NOT NULL,
		sealed        bytea,
		chain         bytea,
		issuer_serial text NOT NULL,
		ski           text NOT NULL
	);
	CREATE INDEX keyring_entries_issuer_serial ON keyring_entries (issuer_serial) WHERE issuer_serial <> '';
	CREATE INDEX keyring_entries_ski ON keyring_entries (ski) WHERE ski <> '';
	CREATE TABLE keyring_addresses (
		fingerprint text NOT NULL REFERENCES keyring_entries (fingerprint) ON DELETE CASCADE,
		address     text NOT NULL,
		domain      text NOT NULL,
		PRIMARY KEY (address, fingerprint)
	);
	CREATE INDEX keyring_addresses_fpr ON keyring_addresses (fingerprint);
	CREATE INDEX keyring_addresses_domain ON keyring_addresses (domain);
	CREATE TABLE keyring_keyids (
		fingerprint text NOT NULL REFERENCES keyring_entries (fingerprint) ON DELETE CASCADE,
		keyid       text NOT NULL,
		PRIMARY KEY (keyid, fingerprint)
	);
	CREATE INDEX keyring_keyids_fpr ON keyring_keyids (fingerprint);
	CREATE TABLE keyring_audit (
		id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		at          bigint NOT NULL,
		actor       text NOT NULL,
		action      text NOT NULL,
		fingerprint text NOT NULL,
		detail      text NOT NULL
	);
	CREATE TABLE keyring_pending (
		id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		at              bigint NOT NULL,
		address         text NOT NULL,
		scheme          text NOT NULL,
		old_fingerprint text NOT NULL,
		new_fingerprint text NOT NULL,
		source          text NOT NULL
	)`,
	// Version 2: the files every node shares (keys.Files), secret ones sealed by the caller.
	`CREATE TABLE keyring_files (
		name    text PRIMARY KEY,
		data    bytea NOT NULL,
		updated bigint NOT NULL
	)`,
}

// migrateLock serializes concurrent migrations (several nodes started at once).
const migrateLock = 0x53474b4d49475254 // "SGKMIGRT"

// Migrate creates the keyring schema in the database dsn names, or upgrades it to
// SchemaVersion. It is safe to run again and from several nodes at once. A database written
// by a newer Sealgate is refused with keys.ErrSchemaVersion.
func Migrate(ctx context.Context, dsn string) error {
	err := pgmigrate.Apply(ctx, dsn, pgmigrate.Plan{
		Lock:       migrateLock,
		Migrations: migrations[:],
		Setup:      meta + `; INSERT INTO keyring_meta (schema_version, changes) VALUES (0, 0) ON CONFLICT DO NOTHING`,
		Version: func(ctx context.Context, tx pgx.Tx) (int, error) {
			return pgmigrate.ScanVersion(tx.QueryRow(ctx, `SELECT schema_version FROM keyring_meta`))
		},
		Record: func(ctx context.Context, tx pgx.Tx, v int) error {
			_, err := tx.Exec(ctx, `UPDATE keyring_meta SET schema_version = $1`, v)
			return err
		},
		Newer: keys.ErrSchemaVersion,
	})
	if err != nil {
		return fmt.Errorf("pgkeys: migrate: %w", err)
	}
	return nil
}

// Backend is the keyring stored in PostgreSQL. It is safe for concurrent use.
type Backend struct {
	pool *pgxpool.Pool
}

var (
	_ keys.Backend   = (*Backend)(nil)
	_ keys.Versioned = (*Backend)(nil)
)

// Open connects to the database dsn names and checks its keyring schema: ErrNoSchema when it
// is missing or older than SchemaVersion, keys.ErrSchemaVersion when it is newer.
func Open(ctx context.Context, dsn string) (*Backend, error) {
	pool, err := openPool(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return &Backend{pool: pool}, nil
}

// openPool connects to dsn and checks the keyring schema's version.
func openPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgkeys: %w", err)
	}
	var v int
	err = pool.QueryRow(ctx, `SELECT schema_version FROM keyring_meta`).Scan(&v)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01", errors.Is(err, pgx.ErrNoRows): // no table, no row
		err = ErrNoSchema
	case err != nil:
		err = fmt.Errorf("pgkeys: %w", err)
	case v < SchemaVersion:
		err = ErrNoSchema
	case v > SchemaVersion:
		err = keys.ErrSchemaVersion
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// Close closes the connections.
func (b *Backend) Close() error {
	b.pool.Close()
	return nil
}

// Version implements keys.Versioned: the number of Update transactions committed so far, by
// any node.
func (b *Backend) Version(ctx context.Context) (int64, error) {
	var n int64
	err := b.pool.QueryRow(ctx, `SELECT changes FROM keyring_meta`).Scan(&n)
	return n, err
}

// View implements keys.Backend.
func (b *Backend) View(ctx context.Context, fn func(keys.Tx) error) error {
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if err := fn(pgTx{ctx: ctx, tx: tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Update implements keys.Backend. Update transactions run one at a time across all nodes.
func (b *Backend) Update(ctx context.Context, fn func(keys.Tx) error) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	// The row lock taken here is held to the end: it serializes writers, and the counter
	// tells every node's cache that something changed once this commits.
	if _, err := tx.Exec(ctx, `UPDATE keyring_meta SET changes = changes + 1`); err != nil {
		return err
	}
	if err := fn(pgTx{ctx: ctx, tx: tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgTx is one transaction; keys.Tx methods take no context, so it carries the caller's.
type pgTx struct {
	ctx context.Context
	tx  pgx.Tx
}

var _ keys.Tx = pgTx{}

// recordSelect reads records with their addresses and key ids in one query.
const recordSelect = `SELECT e.fingerprint, e.scheme, e.algorithm, e.created, e.expires, e.revoked, e.trust,
	e.source, e.added, e.updated, e.public, e.sealed, e.chain, e.issuer_serial, e.ski,
	ARRAY(SELECT a.address FROM keyring_addresses a WHERE a.fingerprint = e.fingerprint ORDER BY a.address),
	ARRAY(SELECT k.keyid FROM keyring_keyids k WHERE k.fingerprint = e.fingerprint ORDER BY k.keyid)
	FROM keyring_entries e`

func (t pgTx) Get(fpr string) (keys.Record, error) {
	rs, err := t.query(recordSelect+` WHERE e.fingerprint = $1`, fpr)
	if err != nil {
		return keys.Record{}, err
	}
	if len(rs) == 0 {
		return keys.Record{}, keys.ErrNotFound
	}
	return rs[0], nil
}

func (t pgTx) Find(q keys.Query) ([]keys.Record, error) {
	var where []string
	var args []any
	add := func(cond, arg string) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Scheme != "" {
		add("e.scheme = $%d", string(q.Scheme))
	}
	if q.Address != "" {
		add("e.fingerprint IN (SELECT fingerprint FROM keyring_addresses WHERE address = $%d)", q.Address)
	}
	if q.Domain != "" {
		add("e.fingerprint IN (SELECT fingerprint FROM keyring_addresses WHERE domain = $%d)", q.Domain)
	}
	if q.KeyID != "" {
		add("e.fingerprint IN (SELECT fingerprint FROM keyring_keyids WHERE keyid = $%d)", q.KeyID)
	}
	if q.IssuerSerial != "" {
		add("e.issuer_serial = $%d", q.IssuerSerial)
	}
	if q.SubjectKeyID != "" {
		add("e.ski = $%d", q.SubjectKeyID)
	}
	query := recordSelect
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return t.query(query+" ORDER BY e.added, e.fingerprint", args...)
}

func (t pgTx) query(query string, args ...any) ([]keys.Record, error) {
	return queryAll(t, func(row keys.Row) (keys.Record, error) {
		var addrs, ids []string
		r, err := keys.ScanRecord(row, &addrs, &ids)
		// As the embedded backend returns them: no addresses or key ids is nil.
		if len(addrs) > 0 {
			r.Addresses = addrs
		}
		if len(ids) > 0 {
			r.KeyIDs = ids
		}
		return r, err
	}, query, args...)
}

// queryAll runs query in t and reads every row with scan.
func queryAll[T any](t pgTx, scan func(keys.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlrows.All(rows, scan)
}

// Put replaces the record, its addresses and key ids in one round trip.
func (t pgTx) Put(r keys.Record) error {
	r.Public = nonNil(r.Public)
	domains := make([]string, len(r.Addresses))
	for i, a := range r.Addresses {
		_, domains[i], _ = strings.Cut(a, "@")
	}
	var b pgx.Batch
	b.Queue(`INSERT INTO keyring_entries (fingerprint, scheme, algorithm, created, expires, revoked, trust, source,
			added, updated, public, sealed, chain, issuer_serial, ski)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
		ON CONFLICT (fingerprint) DO UPDATE SET scheme=excluded.scheme, algorithm=excluded.algorithm,
			created=excluded.created, expires=excluded.expires, revoked=excluded.revoked, trust=excluded.trust,
			source=excluded.source, added=excluded.added, updated=excluded.updated, public=excluded.public,
			sealed=excluded.sealed, chain=excluded.chain, issuer_serial=excluded.issuer_serial, ski=excluded.ski`,
		keys.RecordValues(r)...)
	b.Queue(`DELETE FROM keyring_addresses WHERE fingerprint = $1`, r.Fingerprint)
	b.Queue(`DELETE FROM keyring_keyids WHERE fingerprint = $1`, r.Fingerprint)
	b.Queue(`INSERT INTO keyring_addresses (fingerprint, address, domain)
		SELECT $1, a, d FROM unnest($2::text[], $3::text[]) AS t(a, d) ON CONFLICT DO NOTHING`,
		r.Fingerprint, nonNilStrings(r.Addresses), domains)
	b.Queue(`INSERT INTO keyring_keyids (fingerprint, keyid)
		SELECT $1, k FROM unnest($2::text[]) AS t(k) ON CONFLICT DO NOTHING`,
		r.Fingerprint, nonNilStrings(r.KeyIDs))
	return t.tx.SendBatch(t.ctx, &b).Close()
}

// nonNil keeps an empty public key from being sent as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (t pgTx) Delete(fpr string) error {
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM keyring_entries WHERE fingerprint = $1`, fpr)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return keys.ErrNotFound
	}
	return nil
}

func (t pgTx) AppendAudit(a keys.AuditEntry) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO keyring_audit (at, actor, action, fingerprint, detail) VALUES ($1,$2,$3,$4,$5)`,
		keys.UnixNanos(a.At), a.Actor, a.Action, a.Fingerprint, a.Detail)
	return err
}

func (t pgTx) Audit() ([]keys.AuditEntry, error) {
	return queryAll(t, keys.ScanAudit, `SELECT at, actor, action, fingerprint, detail FROM keyring_audit ORDER BY id`)
}

func (t pgTx) AddPending(p keys.PendingChange) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO keyring_pending (at, address, scheme, old_fingerprint, new_fingerprint, source)
		VALUES ($1,$2,$3,$4,$5,$6)`,
		keys.UnixNanos(p.At), p.Address, string(p.Scheme), p.OldFingerprint, p.NewFingerprint, p.Source)
	return err
}

func (t pgTx) Pending() ([]keys.PendingChange, error) {
	return queryAll(t, keys.ScanPending, `SELECT id, at, address, scheme, old_fingerprint, new_fingerprint, source
		FROM keyring_pending ORDER BY id`)
}
