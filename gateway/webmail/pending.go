package webmail

import (
	"context"
	"strings"

	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// pendingMsg is what a listing keeps of a message the index does not cover yet: whether it
// contains the query and its sort key, never its text, so that a listing of a mailbox the
// indexer lags far behind holds a few bytes per message.
type pendingMsg struct {
	match bool   // the message contains the query (always true without one)
	key   string // the lowercased value of the sort field, "" without one
}

// pending reads the messages of mb that the index does not cover yet (mailindex.Indexer.Unindexed
// and Texts, the rule IMAP SEARCH follows too), by body id. It is read before the index is
// asked: every message not in the result is in the index then. Nothing is indexed here; the
// background indexer does that.
func (s *Server) pending(ctx context.Context, mb mailstore.Mailbox, query, sortField string) (map[int64]pendingMsg, error) {
	ids, err := s.opts.Index.Unindexed(ctx, mb.ID, mb.UIDValidity)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	defer s.opts.Index.Scanning()()
	lower := strings.ToLower(query)
	var want mailindex.Parts
	if query != "" {
		want = mailindex.AllParts
	}
	if sortField != "" {
		want |= mailindex.PartHeader
	}
	out := make(map[int64]pendingMsg, len(ids))
	err = s.opts.Index.Texts(ctx, ids, want, func(t mailstore.SearchText) error {
		p := pendingMsg{match: lower == "" || mailstore.TextContains(mailstore.FieldText, t.Header, t.Text, lower)}
		if sortField != "" {
			p.key = strings.ToLower(headerLine(t.Header, sortField))
		}
		out[t.BodyID] = p
		return nil
	})
	return out, err
}
