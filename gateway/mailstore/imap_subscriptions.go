package mailstore

import (
	"context"
	"database/sql"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// schemaIMAPSubscriptions: subscriptions to names that have no mailbox (RFC 9051 §6.3.7: a
// subscription is not removed because its mailbox was deleted). A mailbox's own subscription
// is its subscribed column; the name moves here when the mailbox is deleted and back when
// a mailbox of that name is created.
const schemaIMAPSubscriptions = `
CREATE TABLE IF NOT EXISTS imap_subscriptions (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name    TEXT NOT NULL,
	PRIMARY KEY (user_id, name)
) STRICT;
`

// SubscribedNames returns the user's subscriptions to names without a mailbox, sorted.
func (s *Store) SubscribedNames(ctx context.Context, userID int64) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT name FROM imap_subscriptions WHERE user_id = ? ORDER BY name`, userID)
	return sqlrows.CollectColumn[string](rows, err)
}

// SetSubscribedName adds or removes a subscription to a name without a mailbox.
func (s *Store) SetSubscribedName(ctx context.Context, userID int64, name string, on bool) error {
	name = canonicalName(name)
	return s.write(ctx, func(tx *sql.Tx) error {
		if !on {
			_, err := tx.Exec(`DELETE FROM imap_subscriptions WHERE user_id = ? AND name = ?`, userID, name)
			return err
		}
		_, err := tx.Exec(`INSERT INTO imap_subscriptions(user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, name)
		return err
	})
}
