package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sealgate/sealgate/crypto/changecount"
	"github.com/sealgate/sealgate/crypto/sqlitefile"
	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// Backend stores records, the audit log and pending changes. The embedded implementation is
// a SQLite file (DIR/keys.db); keys/pgkeys keeps them in PostgreSQL for nodes sharing a
// database. Every method of a Tx sees the transaction's snapshot; Update commits all its
// writes or none, and Updates run one at a time, across processes and nodes, so a
// read-modify-write inside one never loses another's write. Secret keys reach a Backend only
// sealed (Record.Sealed). keys/keystest is the conformance suite of this contract.
type Backend interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is one transaction of a Backend.
type Tx interface {
	// Get returns the record with this fingerprint, or ErrNotFound.
	Get(fingerprint string) (Record, error)
	// Find returns the records matching every non-empty field of q, oldest first.
	Find(q Query) ([]Record, error)
	// Put inserts or replaces a record (with its addresses and key ids).
	Put(r Record) error
	// Delete removes a record; ErrNotFound when there is none.
	Delete(fingerprint string) error
	AppendAudit(a AuditEntry) error
	Audit() ([]AuditEntry, error)
	AddPending(p PendingChange) error
	Pending() ([]PendingChange, error)
}

// Query selects records. Empty fields do not restrict.
type Query struct {
	Scheme       Scheme
	Address      string // normalized
	Domain       string // every record with an address at this domain
	KeyID        string // 16 upper-case hex digits
	IssuerSerial string
	SubjectKeyID string
}

const schemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS entries (
	fingerprint   TEXT PRIMARY KEY,
	scheme        TEXT NOT NULL,
	algorithm     TEXT NOT NULL,
	created       INTEGER NOT NULL,
	expires       INTEGER NOT NULL,
	revoked       INTEGER NOT NULL,
	trust         TEXT NOT NULL,
	source        TEXT NOT NULL,
	added         INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	public        BLOB NOT NULL,
	sealed        BLOB,
	chain         BLOB,
	issuer_serial TEXT NOT NULL,
	ski           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_issuer_serial ON entries(issuer_serial) WHERE issuer_serial != '';
CREATE INDEX IF NOT EXISTS entries_ski ON entries(ski) WHERE ski != '';
CREATE TABLE IF NOT EXISTS entry_addresses (
	fingerprint TEXT NOT NULL REFERENCES entries(fingerprint) ON DELETE CASCADE,
	address     TEXT NOT NULL,
	domain      TEXT NOT NULL,
	PRIMARY KEY (address, fingerprint)
);
CREATE INDEX IF NOT EXISTS entry_addresses_fpr ON entry_addresses(fingerprint);
CREATE INDEX IF NOT EXISTS entry_addresses_domain ON entry_addresses(domain);
CREATE TABLE IF NOT EXISTS entry_keyids (
	fingerprint TEXT NOT NULL REFERENCES entries(fingerprint) ON DELETE CASCADE,
	keyid       TEXT NOT NULL,
	PRIMARY KEY (keyid, fingerprint)
);
CREATE INDEX IF NOT EXISTS entry_keyids_fpr ON entry_keyids(fingerprint);
CREATE TABLE IF NOT EXISTS audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	detail      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	at              INTEGER NOT NULL,
	address         TEXT NOT NULL,
	scheme          TEXT NOT NULL,
	old_fingerprint TEXT NOT NULL,
	new_fingerprint TEXT NOT NULL,
	source          TEXT NOT NULL
);
`

// sqliteBackend is the embedded Backend: DIR/keys.db in WAL mode, shared by the server and the
// CLI like the mail store. Writes go through one connection with BEGIN IMMEDIATE.
type sqliteBackend struct {
	wdb, rdb *sql.DB
	// changes is the keyring's change counter (DIR/keys.changes, see package changecount):
	// every Update adds one after its commit, in whichever process made it.
	changes *changecount.Counter
}

func openSQLite(dir string) (*sqliteBackend, error) {
	path := filepath.Join(dir, "keys.db")
	db, err := sqlitefile.Open(path, sqlitefile.Options{})
	if err != nil {
		return nil, err
	}
	wdb, rdb := db.Writer, db.Reader
	changes, err := changecount.Open(filepath.Join(dir, "keys.changes"))
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	b := &sqliteBackend{wdb: wdb, rdb: rdb, changes: changes}
	if err := b.migrate(); err != nil {
		b.Close()
		return nil, fmt.Errorf("keys: %s: %w", path, err)
	}
	return b, nil
}

func (b *sqliteBackend) migrate() error {
	tx, err := b.wdb.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return ErrSchemaVersion
	}
	if _, err := tx.Exec(schema); err != nil {
		return err
	}
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

func (b *sqliteBackend) Close() error {
	return errors.Join(b.wdb.Close(), b.rdb.Close())
}

// Version implements Versioned.
func (b *sqliteBackend) Version(ctx context.Context) (int64, error) {
	return int64(b.changes.Load()), nil
}

func (b *sqliteBackend) View(ctx context.Context, fn func(Tx) error) error {
	tx, err := b.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(sqliteTx{tx})
}

func (b *sqliteBackend) Update(ctx context.Context, fn func(Tx) error) error {
	tx, err := b.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(sqliteTx{tx}); err != nil {
		return err
	}
	err = tx.Commit()
	b.changes.Add() // after a failed commit too: its outcome is not certain
	return err
}

type sqliteTx struct{ tx *sql.Tx }

var _ Backend = (*sqliteBackend)(nil)
var _ Versioned = (*sqliteBackend)(nil)
var _ Tx = sqliteTx{}

const recordColumns = `e.fingerprint, e.scheme, e.algorithm, e.created, e.expires, e.revoked, e.trust, e.source,
	e.added, e.updated, e.public, e.sealed, e.chain, e.issuer_serial, e.ski`

func (t sqliteTx) Get(fpr string) (Record, error) {
	rs, err := t.query("SELECT "+recordColumns+" FROM entries e WHERE e.fingerprint = ?", fpr)
	if err != nil {
		return Record{}, err
	}
	if len(rs) == 0 {
		return Record{}, ErrNotFound
	}
	return rs[0], nil
}

func (t sqliteTx) Find(q Query) ([]Record, error) {
	var where []string
	var args []any
	for _, c := range []struct{ value, cond string }{
		{string(q.Scheme), "e.scheme = ?"},
		{q.Address, "e.fingerprint IN (SELECT fingerprint FROM entry_addresses WHERE address = ?)"},
		{q.Domain, "e.fingerprint IN (SELECT fingerprint FROM entry_addresses WHERE domain = ?)"},
		{q.KeyID, "e.fingerprint IN (SELECT fingerprint FROM entry_keyids WHERE keyid = ?)"},
		{q.IssuerSerial, "e.issuer_serial = ?"},
		{q.SubjectKeyID, "e.ski = ?"},
	} {
		if c.value != "" { // a field left empty does not restrict
			where = append(where, c.cond)
			args = append(args, c.value)
		}
	}
	query := "SELECT " + recordColumns + " FROM entries e"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return t.query(query+" ORDER BY e.added, e.fingerprint", args...)
}

func (t sqliteTx) query(query string, args ...any) ([]Record, error) {
	// Every row is read (and the result closed) before fill queries again.
	out, err := queryAll(t.tx, func(row Row) (Record, error) { return ScanRecord(row) }, query, args...)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := t.fill(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// queryAll runs query in tx and reads every row with scan; the result is closed after.
func queryAll[T any](tx *sql.Tx, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlrows.All(rows, scan)
}

func (t sqliteTx) fill(r *Record) error {
	var err error
	if r.Addresses, err = queryAll(t.tx, ScanString, "SELECT address FROM entry_addresses WHERE fingerprint = ? ORDER BY address", r.Fingerprint); err != nil {
		return err
	}
	r.KeyIDs, err = queryAll(t.tx, ScanString, "SELECT keyid FROM entry_keyids WHERE fingerprint = ? ORDER BY keyid", r.Fingerprint)
	return err
}

func (t sqliteTx) Put(r Record) error {
	_, err := t.tx.Exec(`INSERT INTO entries (fingerprint, scheme, algorithm, created, expires, revoked, trust, source,
			added, updated, public, sealed, chain, issuer_serial, ski)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (fingerprint) DO UPDATE SET scheme=excluded.scheme, algorithm=excluded.algorithm,
			created=excluded.created, expires=excluded.expires, revoked=excluded.revoked, trust=excluded.trust,
			source=excluded.source, added=excluded.added, updated=excluded.updated, public=excluded.public,
			sealed=excluded.sealed, chain=excluded.chain, issuer_serial=excluded.issuer_serial, ski=excluded.ski`,
		RecordValues(r)...)
	if err != nil {
		return err
	}
	for _, q := range []string{"DELETE FROM entry_addresses WHERE fingerprint = ?", "DELETE FROM entry_keyids WHERE fingerprint = ?"} {
		if _, err := t.tx.Exec(q, r.Fingerprint); err != nil {
			return err
		}
	}
	for _, a := range r.Addresses {
		_, domain, _ := strings.Cut(a, "@")
		if _, err := t.tx.Exec("INSERT OR IGNORE INTO entry_addresses (fingerprint, address, domain) VALUES (?,?,?)", r.Fingerprint, a, domain); err != nil {
			return err
		}
	}
	for _, id := range r.KeyIDs {
		if _, err := t.tx.Exec("INSERT OR IGNORE INTO entry_keyids (fingerprint, keyid) VALUES (?,?)", r.Fingerprint, id); err != nil {
			return err
		}
	}
	return nil
}

func (t sqliteTx) Delete(fpr string) error {
	res, err := t.tx.Exec("DELETE FROM entries WHERE fingerprint = ?", fpr)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (t sqliteTx) AppendAudit(a AuditEntry) error {
	_, err := t.tx.Exec("INSERT INTO audit (at, actor, action, fingerprint, detail) VALUES (?,?,?,?,?)",
		UnixNanos(a.At), a.Actor, a.Action, a.Fingerprint, a.Detail)
	return err
}

func (t sqliteTx) Audit() ([]AuditEntry, error) {
	return queryAll(t.tx, ScanAudit, "SELECT at, actor, action, fingerprint, detail FROM audit ORDER BY id")
}

func (t sqliteTx) AddPending(p PendingChange) error {
	_, err := t.tx.Exec("INSERT INTO pending (at, address, scheme, old_fingerprint, new_fingerprint, source) VALUES (?,?,?,?,?,?)",
		UnixNanos(p.At), p.Address, string(p.Scheme), p.OldFingerprint, p.NewFingerprint, p.Source)
	return err
}

func (t sqliteTx) Pending() ([]PendingChange, error) {
	return queryAll(t.tx, ScanPending, "SELECT id, at, address, scheme, old_fingerprint, new_fingerprint, source FROM pending ORDER BY id")
}
