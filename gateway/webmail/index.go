package webmail

import (
	"context"
)

// indexMailbox puts messages the background indexer has not reached yet (and messages web
// mail appended itself, such as Sent copies) into the search index before a listing or a
// search. Bounded per request: 64 batches, the rest next time.
func (s *Server) indexMailbox(ctx context.Context, mailboxID int64) error {
	return s.opts.Index.IndexMailbox(ctx, mailboxID, 64)
}
