package mailstore

// schemaQueue: the outbound spool. A queue row holds one reference to its body.
const schemaQueue = `
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
	state      TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | bouncing | failed (see queue.go)
	last_error TEXT NOT NULL DEFAULT '',
	updated    INTEGER NOT NULL,
	PRIMARY KEY (queue_id, rcpt)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS queue_unref AFTER DELETE ON queue BEGIN
	UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body_id;
END;
-- Entries whose sender was told the delivery is delayed (one warning per entry).
CREATE TABLE IF NOT EXISTS queue_warned (
	queue_id INTEGER PRIMARY KEY REFERENCES queue(id) ON DELETE CASCADE
) STRICT;
`
