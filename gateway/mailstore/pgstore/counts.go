package pgstore

// schemaV7 keeps STATUS's figures per mailbox (messages, unseen, \Deleted, total size) in
// mailbox_counts, so that STATUS reads one row instead of aggregating the mailbox's messages
// (the embedded store's schemaCounts does the same). Statement triggers fold each INSERT,
// UPDATE and DELETE on messages into one change per mailbox: an expunge of 10,000 messages is
// one UPDATE of the counts, not 10,000. A delete only updates (when a mailbox is deleted, its
// row has gone with it by the foreign key); an insert or an update adds the row when missing.
// The table is locked before the existing mailboxes are counted, so no write falls between
// the count and the triggers. 1 and 8 are FlagSeen and FlagDeleted.
var schemaV7 = `
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE mailbox_counts (
	mailbox_id bigint PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
	messages   bigint NOT NULL DEFAULT 0,
	unseen     bigint NOT NULL DEFAULT 0,
	deleted    bigint NOT NULL DEFAULT 0,
	size       bigint NOT NULL DEFAULT 0
);

INSERT INTO mailbox_counts(mailbox_id, messages, unseen, deleted, size)
	SELECT mb.id, count(m.uid), count(m.uid) FILTER (WHERE m.flags & 1 = 0),
		count(m.uid) FILTER (WHERE m.flags & 8 != 0), coalesce(sum(m.size), 0)
	FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id GROUP BY mb.id;

` + statementTriggers("sealgate_mailbox_counts_new",
	"\tINSERT INTO mailbox_counts(mailbox_id) SELECT id FROM changed ON CONFLICT DO NOTHING;\n",
	onRows("mailbox_counts_new", "INSERT", "mailboxes", "changed")) + `
` + statementTriggers("sealgate_mailbox_counts_add", `	INSERT INTO mailbox_counts AS c (mailbox_id, messages, unseen, deleted, size)
		SELECT mailbox_id, count(*), count(*) FILTER (WHERE flags & 1 = 0), count(*) FILTER (WHERE flags & 8 != 0), sum(size)
		FROM added GROUP BY mailbox_id
`+countsAddExcluded, onRows("mailbox_counts_add", "INSERT", "messages", "added")) + `
` + statementTriggers("sealgate_mailbox_counts_remove", `	UPDATE mailbox_counts c SET messages = c.messages - d.messages, unseen = c.unseen - d.unseen,
		deleted = c.deleted - d.deleted, size = c.size - d.size
	FROM (SELECT mailbox_id, count(*) AS messages, count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
		count(*) FILTER (WHERE flags & 8 != 0) AS deleted, sum(size) AS size FROM removed GROUP BY mailbox_id) d
	WHERE c.mailbox_id = d.mailbox_id;
`, onRows("mailbox_counts_remove", "DELETE", "messages", "removed")) + `
-- An update that changes neither \Seen, \Deleted, the size nor the mailbox writes nothing.
` + statementTriggers("sealgate_mailbox_counts_change", `	INSERT INTO mailbox_counts AS c (mailbox_id, messages, unseen, deleted, size)
		SELECT mailbox_id, sum(n), sum(u), sum(d), sum(s) FROM (
			SELECT mailbox_id, 1 AS n, (flags & 1 = 0)::int AS u, (flags & 8 != 0)::int AS d, size AS s FROM after_rows
			UNION ALL
			SELECT mailbox_id, -1, -(flags & 1 = 0)::int, -(flags & 8 != 0)::int, -size FROM before_rows) x
		GROUP BY mailbox_id HAVING sum(n) != 0 OR sum(u) != 0 OR sum(d) != 0 OR sum(s) != 0
`+countsAddExcluded, trigger{"mailbox_counts_change", "UPDATE", "messages", "OLD TABLE AS before_rows NEW TABLE AS after_rows"})

// countsAddExcluded ends an insert into mailbox_counts (as c) whose rows are changes: a
// mailbox that has a row adds the change to it.
const countsAddExcluded = `		ON CONFLICT (mailbox_id) DO UPDATE SET messages = c.messages + excluded.messages, unseen = c.unseen + excluded.unseen,
			deleted = c.deleted + excluded.deleted, size = c.size + excluded.size;
`
