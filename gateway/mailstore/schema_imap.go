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
//     for ENVELOPE and header searches. A body's row goes with the body.
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

CREATE TRIGGER IF NOT EXISTS imap_search_gc AFTER DELETE ON bodies BEGIN
	DELETE FROM imap_search WHERE rowid = OLD.id;
END;

CREATE TABLE IF NOT EXISTS imap_envelope (
	body_id INTEGER PRIMARY KEY,
	data    BLOB NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS imap_envelope_gc AFTER DELETE ON bodies BEGIN
	DELETE FROM imap_envelope WHERE body_id = OLD.id;
END;
`
