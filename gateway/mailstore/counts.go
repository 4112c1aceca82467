package mailstore

// schemaCounts keeps the numbers STATUS reports for each mailbox (messages, unseen, \Deleted,
// total size) up to date as messages come, go, move and change flags, so that STATUS and the
// counts of a LIST-STATUS cost one row lookup whatever the size of the mailbox instead of a
// scan of its messages (four of them before: 5 ms at 10,000 messages, 50 at 100,000).
//
// Triggers keep the table exact: an insert adds the message to its mailbox's row (creating
// it), a delete removes it, an update that changes the \Seen or \Deleted bit, the size or the
// mailbox moves it between the old and the new figures. A data directory from before this
// table gets its rows from one count at the first Open, in the same transaction that creates
// the triggers, so no delivery falls between the count and the triggers. 1 and 8 are
// FlagSeen and FlagDeleted (TestMailboxCountsFollowChanges fails if they drift).
const schemaCounts = `
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS mailbox_counts (
	mailbox_id INTEGER PRIMARY KEY,
	messages   INTEGER NOT NULL,
	unseen     INTEGER NOT NULL,
	deleted    INTEGER NOT NULL,
	size       INTEGER NOT NULL
) STRICT;

INSERT INTO mailbox_counts(mailbox_id, messages, unseen, deleted, size)
	SELECT mb.id, count(m.uid), coalesce(sum(m.flags & 1 = 0), 0), coalesce(sum(m.flags & 8 != 0), 0), coalesce(sum(m.size), 0)
	FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id
	WHERE NOT EXISTS (SELECT 1 FROM mailbox_counts c WHERE c.mailbox_id = mb.id)
	GROUP BY mb.id;

CREATE TRIGGER IF NOT EXISTS mailbox_counts_new AFTER INSERT ON mailboxes BEGIN
	INSERT OR IGNORE INTO mailbox_counts(mailbox_id, messages, unseen, deleted, size) VALUES (NEW.id, 0, 0, 0, 0);
END;
CREATE TRIGGER IF NOT EXISTS mailbox_counts_gone AFTER DELETE ON mailboxes BEGIN
	DELETE FROM mailbox_counts WHERE mailbox_id = OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS mailbox_counts_add AFTER INSERT ON messages BEGIN
	INSERT INTO mailbox_counts(mailbox_id, messages, unseen, deleted, size)
		VALUES (NEW.mailbox_id, 1, NEW.flags & 1 = 0, NEW.flags & 8 != 0, NEW.size)
		ON CONFLICT(mailbox_id) DO UPDATE SET messages = messages + 1, unseen = unseen + excluded.unseen,
			deleted = deleted + excluded.deleted, size = size + excluded.size;
END;
CREATE TRIGGER IF NOT EXISTS mailbox_counts_remove AFTER DELETE ON messages BEGIN
	UPDATE mailbox_counts SET messages = messages - 1, unseen = unseen - (OLD.flags & 1 = 0),
		deleted = deleted - (OLD.flags & 8 != 0), size = size - OLD.size
		WHERE mailbox_id = OLD.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS mailbox_counts_change AFTER UPDATE OF flags, mailbox_id, size ON messages
	WHEN OLD.flags & 9 != NEW.flags & 9 OR OLD.mailbox_id != NEW.mailbox_id OR OLD.size != NEW.size BEGIN
	UPDATE mailbox_counts SET messages = messages - 1, unseen = unseen - (OLD.flags & 1 = 0),
		deleted = deleted - (OLD.flags & 8 != 0), size = size - OLD.size
		WHERE mailbox_id = OLD.mailbox_id;
	INSERT INTO mailbox_counts(mailbox_id, messages, unseen, deleted, size)
		VALUES (NEW.mailbox_id, 1, NEW.flags & 1 = 0, NEW.flags & 8 != 0, NEW.size)
		ON CONFLICT(mailbox_id) DO UPDATE SET messages = messages + 1, unseen = unseen + excluded.unseen,
			deleted = deleted + excluded.deleted, size = size + excluded.size;
END;
COMMIT;
`
