package pgstore

// schemaV9 replaces the row trigger that released an expunged message's body and wrote its
// tombstone (sealgate_messages_deleted, schemaV1) with a statement trigger. The row trigger
// ran three statements per message: an EXPUNGE of 10,000 messages of a 100,000-message
// mailbox spent 590 of its 740 ms in it. The statement trigger writes every tombstone in one
// INSERT, lowers the reference counts in one UPDATE and deletes the bodies left without a
// reference (their chunks, search text and envelope with them) in one DELETE, whatever the
// number of messages. The DELETE names the bodies the UPDATE brought to zero: selecting them
// by "refs <= 0" let the planner, whose statistics say no body has that count, join the
// bodies to the removed rows in a nested loop, 30 s for 10,000. A mailbox deleted as a whole is gone already when its messages go, and
// gets no tombstones, as before.
var schemaV9 = `
DROP TRIGGER messages_deleted ON messages;
DROP FUNCTION sealgate_messages_deleted();

` + statementTriggersDeclaring("sealgate_messages_removed", "\tgone bigint[];\n", `	INSERT INTO imap_expunged(mailbox_id, uid, modseq)
		SELECT r.mailbox_id, r.uid, mb.highest_modseq FROM removed r JOIN mailboxes mb ON mb.id = r.mailbox_id;
	WITH released AS (
		UPDATE bodies b SET refs = b.refs - r.n
		FROM (SELECT body_id, count(*) AS n FROM removed GROUP BY body_id) r WHERE b.id = r.body_id
		RETURNING b.id, b.refs)
	SELECT array_agg(id) INTO gone FROM released WHERE refs <= 0;
	DELETE FROM bodies WHERE id = ANY(gone);
`, onRows("messages_removed", "DELETE", "messages", "removed"))
