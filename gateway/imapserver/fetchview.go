package imapserver

import (
	"context"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// flagsOnly reports whether a FETCH asks for nothing but UIDs and flags, which the session's
// view holds: a client's flag resync (UID FETCH 1:* (FLAGS)) needs no read of the store.
func flagsOnly(o *imap.FetchOptions) bool {
	return !o.Envelope && !o.InternalDate && !o.RFC822Size && !o.ModSeq && o.BodyStructure == nil &&
		len(o.BodySection) == 0 && len(o.BinarySection) == 0 && len(o.BinarySectionSize) == 0 && o.ChangedSince == 0
}

// viewCurrent reports whether the view holds the store's flags now: nothing changed in the
// mailbox since the view caught up (one read of HIGHESTMODSEQ, which the poll ending the
// command then takes). A change, even this session's own, sends FETCH to the store until the
// next poll catches up.
func (s *session) viewCurrent(ctx context.Context) bool {
	hm, err := s.srv.opts.Store.HighestModSeq(ctx, s.sel.mb.ID)
	if err != nil || hm != s.sel.modseq {
		return false
	}
	s.readModSeq = hm
	return true
}

// viewChunk is readChunk for a flags-only FETCH answered from the view.
func (v *selected) viewChunk(uids []uint32) *fetchChunk {
	c := &fetchChunk{byUID: make(map[uint32]*mailstore.Message, len(uids))}
	ms := make([]mailstore.Message, len(uids))
	for i, uid := range uids {
		p, ok := v.index(uid)
		if !ok {
			continue
		}
		f, kw := v.msgs.state(p)
		ms[i] = mailstore.Message{MailboxID: v.mb.ID, UID: uid, Flags: f, Keywords: kw}
		c.byUID[uid] = &ms[i]
	}
	return c
}
