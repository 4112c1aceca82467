package imapserver

import (
	"context"

	"github.com/emersion/go-imap/v2"
)

// searchNeedsRows reports whether a search must read the store's message rows: for dates,
// sizes and MODSEQs, which the session's view does not hold, and for flags and keywords when the view is
// behind the store (viewCurrent); a search by flags alone (UNSEEN, FLAGGED, KEYWORD, ...) in
// a mailbox nobody changed is answered from the view.
func (s *session) searchNeedsRows(ctx context.Context, c *imap.SearchCriteria) bool {
	if anyCriteria(c, func(c *imap.SearchCriteria) bool {
		return !c.Since.IsZero() || !c.Before.IsZero() || c.Larger != 0 || c.Smaller != 0 || c.ModSeq != nil
	}) {
		return true
	}
	return needsRows(c) && !s.viewCurrent(ctx)
}
