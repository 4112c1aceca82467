// Package pgmigrate brings a PostgreSQL schema up to date: a numbered list of migrations
// applied in one transaction under an advisory lock, so that several nodes starting at once
// migrate once and a failed step leaves the database as it was. The mail store and the
// keyring each keep their own list and version record, and run them through Apply.
package pgmigrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Plan is one schema's migrations and where its version is kept.
type Plan struct {
	// Lock is the advisory lock key that serializes concurrent Apply calls of this schema.
	Lock int64
	// Migrations[i] upgrades the schema from version i to i+1.
	Migrations []string
	// Setup runs before the version is read, for the table that holds it (may be empty).
	Setup string
	// Version reads the schema's version in tx: 0 when there is none.
	Version func(ctx context.Context, tx pgx.Tx) (int, error)
	// Record writes the version reached.
	Record func(ctx context.Context, tx pgx.Tx, version int) error
	// Created, when set, runs once after the migrations of an empty database.
	Created func(ctx context.Context, tx pgx.Tx) error
	// Newer is the error for a database written by a newer version (wrapped).
	Newer error
}

// Apply connects to dsn and brings the schema to len(p.Migrations), or returns an error
// wrapping p.Newer when the database is already past it.
func Apply(ctx context.Context, dsn string, p Plan) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, p.Lock); err != nil {
		return err
	}
	if p.Setup != "" {
		if _, err := tx.Exec(ctx, p.Setup); err != nil {
			return err
		}
	}
	v, err := p.Version(ctx, tx)
	if err != nil {
		return err
	}
	if v > len(p.Migrations) {
		return fmt.Errorf("schema version %d, this Sealgate knows %d: %w", v, len(p.Migrations), p.Newer)
	}
	for i := v; i < len(p.Migrations); i++ {
		if _, err := tx.Exec(ctx, p.Migrations[i]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", i+1, err)
		}
	}
	if v == 0 && p.Created != nil {
		if err := p.Created(ctx, tx); err != nil {
			return err
		}
	}
	if err := p.Record(ctx, tx, len(p.Migrations)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ScanVersion is the version a single-row query returned: 0 when it returned no row.
func ScanVersion(row pgx.Row) (int, error) {
	var v int
	err := row.Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}
