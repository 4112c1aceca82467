package mailstore

// schemaIMAP: what the IMAP server needs beyond the core tables.
//
//   - imap_expunged remembers which UIDs left a mailbox and at which MODSEQ, so a session that
//     has a mailbox selected learns of expunges made by other sessions and processes without
//     re-reading the whole mailbox. The trigger records every deletion of a message whose
//     mailbox still exists (a mailbox deleted as a whole needs no tombstones).
//   - messages_modseq lets a session (and the IMAP server's cached views) catch up with a
//     mailbox by reading the messages changed since a MODSEQ.
//   - imap_search is the search index: one row per body (rowid = bodies.id), the decoded
//     header fields and text parts in an FTS5 trigram index, so SEARCH BODY/TEXT finds
//     substrings without reading message bodies, plus the raw header section (not indexed)
//     for ENVELOPE and header searches. A body's row goes after the body (imap_search_dead).
//   - imap_search_fields keeps the text of the header fields SEARCH looks at most (from, to,
//     cc, bcc, subject, message-id; see searchfields.go), one narrow row per indexed body,
//     written with its search text. A body's row goes with the body; bodies indexed before
//     this table get theirs from the indexer (FillSearchFields), and a search compares the
//     header text of those itself until then.
//   - imap_envelope holds each body's ENVELOPE, parsed once by the search indexer and encoded
//     by the IMAP server (the store treats it as opaque bytes), so FETCH ENVELOPE of a whole
//     mailbox is one query and no header parsing. A body's row goes with the body; a data
//     directory from before this table gets its rows from the indexer when it starts.
const schemaIMAP = `
CREATE TABLE IF NOT EXISTS imap_expunged (
	mailbox_id INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS imap_expunged_mailbox ON imap_expunged(mailbox_id, modseq);
-- ChangesSince reads what changed, not the whole mailbox.
CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);

CREATE TRIGGER IF NOT EXISTS imap_expunge_log AFTER DELETE ON messages BEGIN
	INSERT INTO imap_expunged(mailbox_id, uid, modseq)
		SELECT id, OLD.uid, highest_modseq FROM mailboxes WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS imap_expunge_log_gc AFTER DELETE ON mailboxes BEGIN
	DELETE FROM imap_expunged WHERE mailbox_id = OLD.id;
END;

CREATE VIRTUAL TABLE IF NOT EXISTS imap_search USING fts5(header, body, raw_header UNINDEXED, tokenize = 'trigram');

-- A body's search row goes after the body, in the background (purgeSearchLoop): removing
-- an FTS5 row tokenizes its text again, most of the cost of expunging a message. Until then
-- imap_search_dead lists it; every read joins the index with messages, which no longer name
-- the body, and a new body that takes a dead row's id (SQLite reuses the highest rowid)
-- removes the row first.
DROP TRIGGER IF EXISTS imap_search_gc;
CREATE TABLE IF NOT EXISTS imap_search_dead (id INTEGER PRIMARY KEY) STRICT;
CREATE TRIGGER IF NOT EXISTS imap_search_gc_later AFTER DELETE ON bodies
	WHEN EXISTS (SELECT 1 FROM imap_search_content WHERE id = OLD.id) BEGIN
	INSERT OR IGNORE INTO imap_search_dead(id) VALUES (OLD.id);
END;
CREATE TRIGGER IF NOT EXISTS imap_search_reuse AFTER INSERT ON bodies
	WHEN EXISTS (SELECT 1 FROM imap_search_dead WHERE id = NEW.id) BEGIN
	DELETE FROM imap_search WHERE rowid = NEW.id;
	DELETE FROM imap_search_dead WHERE id = NEW.id;
END;

CREATE TABLE IF NOT EXISTS imap_search_fields (
	id             INTEGER PRIMARY KEY, -- bodies.id
	hdr_from       TEXT,
	hdr_to         TEXT,
	hdr_cc         TEXT,
	hdr_bcc        TEXT,
	hdr_subject    TEXT,
	hdr_message_id TEXT
) STRICT;
CREATE TRIGGER IF NOT EXISTS imap_search_fields_gc AFTER DELETE ON bodies BEGIN
	DELETE FROM imap_search_fields WHERE id = OLD.id;
END;

CREATE TABLE IF NOT EXISTS imap_envelope (
	body_id INTEGER PRIMARY KEY,
	data    BLOB NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS imap_envelope_gc AFTER DELETE ON bodies BEGIN
	DELETE FROM imap_envelope WHERE body_id = OLD.id;
END;
`
