package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sealgate/sealgate/crypto/pgmigrate"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// migrations are applied in order by Migrate, each in the transaction that records its
// number in schema_version; the schema version is the number of migrations applied. A
// released migration is never changed: a change to the schema is a new one at the end.
var migrations = []string{schemaV1, schemaV2, schemaV3, schemaV4, schemaV5, schemaV6, schemaV7, schemaV8}

// SchemaVersion is the schema version this Sealgate reads and writes.
var SchemaVersion = len(migrations)

// ErrSchemaOld is returned by Open when the database has no schema or an older one.
var ErrSchemaOld = errors.New("pgstore: the database schema is missing or older than this Sealgate: run `sealgate db migrate`")

// migrateLock is the advisory lock key that serializes concurrent Migrate calls (several
// nodes started at once).
const migrateLock = 0x5365616c67617465 // "Sealgate"

// Migrate creates the schema in an empty database or brings an older one up to
// SchemaVersion. It refuses (mailstore.ErrSchemaVersion) a database written by a newer
// Sealgate. Several nodes may call it at once.
func Migrate(ctx context.Context, dsn string) error {
	err := pgmigrate.Apply(ctx, dsn, pgmigrate.Plan{
		Lock:       migrateLock,
		Migrations: migrations,
		Setup: `CREATE TABLE IF NOT EXISTS schema_version (
			one     boolean PRIMARY KEY DEFAULT true CHECK (one),
			version integer NOT NULL)`,
		Version: func(ctx context.Context, tx pgx.Tx) (int, error) {
			return pgmigrate.ScanVersion(tx.QueryRow(ctx, `SELECT version FROM schema_version`))
		},
		Record: func(ctx context.Context, tx pgx.Tx, v int) error {
			_, err := tx.Exec(ctx, `INSERT INTO schema_version(version) VALUES ($1)
				ON CONFLICT (one) DO UPDATE SET version = excluded.version`, v)
			return err
		},
		// UIDVALIDITY values start at the current time, as in the embedded store, so a
		// database recreated from scratch does not hand out values clients have cached.
		Created: func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT setval('uidvalidity_seq', $1, false)`, time.Now().Unix())
			return err
		},
		Newer: mailstore.ErrSchemaVersion,
	})
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// checkVersion returns nil when the database has exactly SchemaVersion.
func checkVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) error {
	var v int
	err := q.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return ErrSchemaOld
	case err != nil:
		return err
	case v < SchemaVersion:
		return fmt.Errorf("schema version %d, this Sealgate needs %d: %w", v, SchemaVersion, ErrSchemaOld)
	case v > SchemaVersion:
		return fmt.Errorf("schema version %d was written by a newer Sealgate (this one knows %d): %w", v, SchemaVersion, mailstore.ErrSchemaVersion)
	}
	return nil
}

// schemaV1 is the first schema. Times are Unix seconds, internal_date milliseconds.
//
// Triggers keep what the embedded store keeps with triggers: body reference counts (a body
// goes with its last message or spool entry, and its chunks, search text and envelope with
// it), expunge tombstones for IMAP, and policy_version. Other triggers send the change feed
// (NOTIFY sealgate, see notify.go) for every change to a user's mailboxes or messages except
// the messages Deliver adds, which Deliver announces itself with their UIDs.
var schemaV1 = `
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE SEQUENCE uidvalidity_seq MAXVALUE 4294967295;

CREATE TABLE users (
	id            bigserial PRIMARY KEY,
	address       text NOT NULL,
	address_key   text NOT NULL UNIQUE,
	password_hash text NOT NULL,
	created       bigint NOT NULL
);

CREATE TABLE mailboxes (
	id             bigserial PRIMARY KEY,
	user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name           text NOT NULL,
	special_use    text NOT NULL DEFAULT '',
	uidvalidity    bigint NOT NULL,
	uidnext        bigint NOT NULL DEFAULT 1,
	highest_modseq bigint NOT NULL DEFAULT 1,
	subscribed     boolean NOT NULL DEFAULT true,
	UNIQUE (user_id, name)
);

CREATE TABLE bodies (
	id          bigserial PRIMARY KEY,
	size        bigint NOT NULL,
	header_size bigint NOT NULL,
	refs        integer NOT NULL
);

-- A body's bytes in order, ChunkSize bytes per row (the last one shorter). The foreign key
-- is checked at commit, so a large body's chunks can be written before its bodies row.
CREATE TABLE body_chunks (
	body_id bigint NOT NULL REFERENCES bodies(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	seq     integer NOT NULL,
	data    bytea NOT NULL,
	PRIMARY KEY (body_id, seq)
);
ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE messages (
	mailbox_id    bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           bigint NOT NULL,
	body_id       bigint NOT NULL REFERENCES bodies(id),
	flags         integer NOT NULL DEFAULT 0,
	keywords      text NOT NULL DEFAULT '',
	internal_date bigint NOT NULL,
	size          bigint NOT NULL,
	modseq        bigint NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_body ON messages(body_id);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);

CREATE TABLE imap_expunged (
	mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        bigint NOT NULL,
	modseq     bigint NOT NULL
);
CREATE INDEX imap_expunged_mailbox ON imap_expunged(mailbox_id, modseq);

-- The search index: decoded header fields and text parts, with trigram indexes for
-- case-insensitive substring search (ILIKE), and the raw header section.
CREATE TABLE imap_search (
	body_id    bigint PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
	header     text NOT NULL,
	body       text NOT NULL,
	raw_header bytea
);
CREATE INDEX imap_search_header ON imap_search USING gin (header gin_trgm_ops);
CREATE INDEX imap_search_body ON imap_search USING gin (body gin_trgm_ops);

CREATE TABLE imap_envelope (
	body_id bigint PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
	data    bytea NOT NULL
);

CREATE TABLE pop3_hidden (
	mailbox_id bigint NOT NULL,
	uid        bigint NOT NULL,
	PRIMARY KEY (mailbox_id, uid),
	FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE aliases (
	address_key text PRIMARY KEY,
	address     text NOT NULL,
	targets     text NOT NULL
);

CREATE TABLE policy_settings (
	scope text NOT NULL,
	key   text NOT NULL,
	value text NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE TABLE policy_version (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
INSERT INTO policy_version(id, n) VALUES (1, 0);

-- The outbound spool. lease_owner and lease_until: the node working on an entry (QueueDue)
-- and until when; an expired lease may be taken by any node.
CREATE TABLE queue (
	id           bigserial PRIMARY KEY,
	sender       text NOT NULL,
	body_id      bigint NOT NULL REFERENCES bodies(id),
	created      bigint NOT NULL,
	next_attempt bigint NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	held         boolean NOT NULL DEFAULT false,
	last_error   text NOT NULL DEFAULT '',
	env_id       text NOT NULL DEFAULT '',
	lease_owner  text,
	lease_until  bigint
);
CREATE INDEX queue_due ON queue(next_attempt, id) WHERE NOT held;

CREATE TABLE queue_rcpts (
	queue_id   bigint NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
	rcpt       text NOT NULL,
	state      text NOT NULL DEFAULT 'pending',
	last_error text NOT NULL DEFAULT '',
	updated    bigint NOT NULL,
	PRIMARY KEY (queue_id, rcpt)
);

CREATE TABLE queue_warned (
	queue_id bigint PRIMARY KEY REFERENCES queue(id) ON DELETE CASCADE
);

CREATE FUNCTION sealgate_unref_body(bid bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE bodies SET refs = refs - 1 WHERE id = bid;
	DELETE FROM bodies WHERE id = bid AND refs <= 0;
END $$;

CREATE FUNCTION sealgate_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sealgate_unref_body(OLD.body_id);
	-- A mailbox deleted as a whole is gone already here and needs no tombstones.
	INSERT INTO imap_expunged(mailbox_id, uid, modseq)
		SELECT id, OLD.uid, highest_modseq FROM mailboxes WHERE id = OLD.mailbox_id;
	RETURN NULL;
END $$;
CREATE TRIGGER messages_deleted AFTER DELETE ON messages FOR EACH ROW EXECUTE FUNCTION sealgate_messages_deleted();

CREATE FUNCTION sealgate_queue_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sealgate_unref_body(OLD.body_id);
	RETURN NULL;
END $$;
CREATE TRIGGER queue_deleted AFTER DELETE ON queue FOR EACH ROW EXECUTE FUNCTION sealgate_queue_deleted();

` + statementTriggers("sealgate_policy_changed", "\tUPDATE policy_version SET n = n + 1 WHERE id = 1;\n",
	trigger{"policy_changed", "INSERT OR UPDATE OR DELETE", "policy_settings", ""}) + `
-- The change feed: "c NODE USERID" once per user and transaction (NOTIFY folds equal
-- payloads). NODE is the sealgate.node setting of the connection that made the change.
CREATE FUNCTION sealgate_notify_users(users bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE u bigint;
BEGIN
	FOREACH u IN ARRAY coalesce(users, '{}') LOOP
		PERFORM pg_notify('sealgate', 'c ' || coalesce(nullif(current_setting('sealgate.node', true), ''), '-') || ' ' || u);
	END LOOP;
END $$;

` + notifyTriggers("sealgate_mailboxes_new", "SELECT DISTINCT user_id FROM changed", "mailboxes") + `
` + notifyTriggers("sealgate_messages_changed", `SELECT DISTINCT mb.user_id FROM (SELECT DISTINCT mailbox_id FROM changed) c
		JOIN mailboxes mb ON mb.id = c.mailbox_id`, "messages")

// notifyTriggers is the trigger function fn and the triggers on every change to table that
// feed the users users (a query over the changed rows) to sealgate_notify_users, except
// within a delivery, which notifies once itself.
func notifyTriggers(fn, users, table string) string {
	return statementTriggers(fn, `	IF current_setting('sealgate.delivering', true) = 'on' THEN
		RETURN NULL;
	END IF;
	PERFORM sealgate_notify_users(ARRAY(`+users+`));
`, onEveryChange(table)...)
}
