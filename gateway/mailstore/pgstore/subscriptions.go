package pgstore

import (
	"context"

	"github.com/sealgate/sealgate/crypto/sqlrows"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// schemaV6: subscriptions to names without a mailbox (mailstore.Store.SubscribedNames).
const schemaV6 = `
CREATE TABLE imap_subscriptions (
	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name    text NOT NULL,
	PRIMARY KEY (user_id, name)
);
`

// SubscribedNames returns the user's subscriptions to names without a mailbox, sorted.
func (s *Store) SubscribedNames(ctx context.Context, userID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM imap_subscriptions WHERE user_id = $1 ORDER BY name`, userID)
	return sqlrows.CollectColumn[string](rows, err)
}

// SetSubscribedName adds or removes a subscription to a name without a mailbox.
func (s *Store) SetSubscribedName(ctx context.Context, userID int64, name string, on bool) error {
	name = mailstore.CanonicalMailboxName(name)
	if !on {
		_, err := s.pool.Exec(ctx, `DELETE FROM imap_subscriptions WHERE user_id = $1 AND name = $2`, userID, name)
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO imap_subscriptions(user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, userID, name)
	return err
}
