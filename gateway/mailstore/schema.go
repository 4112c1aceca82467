package mailstore

// schema is applied at every Open; every statement is idempotent. Times are Unix seconds
// (internal_date in milliseconds).
const schema = `
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

-- Outbound spool: one entry per message copy waiting for remote delivery.
CREATE TABLE IF NOT EXISTS queue (
	id           INTEGER PRIMARY KEY,
	sender       TEXT NOT NULL,        -- envelope sender, "" for a bounce
	body_id      INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	held         INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	env_id       TEXT NOT NULL DEFAULT ''  -- the SMTP session's message id, for logs
) STRICT;
CREATE INDEX IF NOT EXISTS queue_due ON queue(next_attempt) WHERE held = 0;

CREATE TABLE IF NOT EXISTS queue_rcpts (
	queue_id   INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
	rcpt       TEXT NOT NULL,
	state      TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed
	last_error TEXT NOT NULL DEFAULT '',
	updated    INTEGER NOT NULL,
	PRIMARY KEY (queue_id, rcpt)
) STRICT, WITHOUT ROWID;

-- Body files whose last reference went away; removed from disk after the commit.
CREATE TABLE IF NOT EXISTS dead_files (path TEXT NOT NULL) STRICT;

CREATE TRIGGER IF NOT EXISTS messages_unref AFTER DELETE ON messages BEGIN
	UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body_id;
END;
CREATE TRIGGER IF NOT EXISTS queue_unref AFTER DELETE ON queue BEGIN
	UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body_id;
END;
CREATE TRIGGER IF NOT EXISTS bodies_gc AFTER UPDATE OF refs ON bodies WHEN NEW.refs <= 0 BEGIN
	INSERT INTO dead_files(path) SELECT NEW.path WHERE NEW.path IS NOT NULL;
	DELETE FROM bodies WHERE id = NEW.id;
END;
`
