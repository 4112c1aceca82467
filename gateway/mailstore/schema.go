package mailstore

// schemaParts are applied in order at every Open. Every statement must be idempotent (CREATE
// ... IF NOT EXISTS); a part that needs to change an existing table adds a new table or checks
// before altering. Times are Unix seconds (internal_date in milliseconds).
func schemaParts() []string {
	return []string{schemaCore, schemaQueue, schemaPolicy, schemaPOP3, schemaIMAP, schemaCounts, schemaAliases, schemaTLSReport, schemaQuota, schemaIMAPRecent, schemaIMAPSubscriptions}
}

// schemaCore: accounts, mailboxes, messages, bodies and their reference counting.
const schemaCore = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value ANY
) STRICT;

CREATE TABLE IF NOT EXISTS users (
	id            INTEGER PRIMARY KEY,
	address       TEXT NOT NULL,        -- canonical form as added
	address_key   TEXT NOT NULL UNIQUE, -- case-folded look-up key
	password_hash TEXT NOT NULL,
	created       INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS mailboxes (
	id             INTEGER PRIMARY KEY,
	user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	special_use    TEXT NOT NULL DEFAULT '',
	uidvalidity    INTEGER NOT NULL,
	uidnext        INTEGER NOT NULL DEFAULT 1,
	highest_modseq INTEGER NOT NULL DEFAULT 1,
	subscribed     INTEGER NOT NULL DEFAULT 1,
	UNIQUE (user_id, name)
) STRICT;

CREATE TABLE IF NOT EXISTS bodies (
	id          INTEGER PRIMARY KEY,
	size        INTEGER NOT NULL,
	header_size INTEGER NOT NULL,
	data        BLOB,               -- the body, when at most InlineLimit bytes
	path        TEXT,               -- relative file path otherwise
	refs        INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS messages (
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	body_id       INTEGER NOT NULL,
	flags         INTEGER NOT NULL DEFAULT 0,
	keywords      TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,
	size          INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;

-- Body files whose last reference went away; removed from disk after the commit.
CREATE TABLE IF NOT EXISTS dead_files (path TEXT NOT NULL) STRICT;

CREATE TRIGGER IF NOT EXISTS messages_unref AFTER DELETE ON messages BEGIN
	UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body_id;
END;
CREATE TRIGGER IF NOT EXISTS bodies_gc AFTER UPDATE OF refs ON bodies WHEN NEW.refs <= 0 BEGIN
	INSERT INTO dead_files(path) SELECT NEW.path WHERE NEW.path IS NOT NULL;
	DELETE FROM bodies WHERE id = NEW.id;
END;
`
