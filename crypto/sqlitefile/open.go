package sqlitefile

import (
	"database/sql"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options are what one store adds to the settings every embedded database opens with.
type Options struct {
	// WriterParams and ReaderParams are appended to the data source name of the writer and of
	// the readers ("&_pragma=..."), for settings one store needs and the other does not.
	WriterParams, ReaderParams string
}

// DB is an embedded database opened as Open opens it.
type DB struct {
	// DSN is the data source name both pools start from: durable WAL mode (synchronous=FULL),
	// foreign keys on, and a busy timeout long enough for another process's checkpoint.
	DSN string
	// Writer is the one connection every write goes through, with BEGIN IMMEDIATE: writes
	// queue in the process instead of failing with SQLITE_BUSY when a read turns into a write.
	Writer *sql.DB
	// Reader is the pool of reading connections; its size is the caller's.
	Reader *sql.DB
}

// Open prepares the database file path as PrepareOwnerOnly does and opens its writer and
// reader pools. Both embedded stores (mail.db, keys.db) open their databases here, so that
// their durability and locking settings are one rule.
func Open(path string, o Options) (*DB, error) {
	if err := PrepareOwnerOnly(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate"+o.WriterParams)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", dsn+o.ReaderParams)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &DB{DSN: dsn, Writer: w, Reader: r}, nil
}
