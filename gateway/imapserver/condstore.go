package imapserver

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// CONDSTORE and QRESYNC (RFC 7162) over the store's MODSEQs: every message and mailbox has
// one, and the store logs expunged UIDs with the MODSEQ of their removal, so every mailbox
// supports both (no NOMODSEQ). CONDSTORE goes on with ENABLE or the first command that uses
// it; from then on flag updates carry MODSEQ. QRESYNC goes on only with ENABLE, implies
// CONDSTORE, and reports expunges as VANISHED.

// modSeqCaps are the capabilities of RFC 7162.
const modSeqCaps = "CONDSTORE QRESYNC"

// enableModSeq is ENABLE for CONDSTORE and QRESYNC: it returns the name to list in ENABLED,
// or "" when name is neither or already on.
func (s *session) enableModSeq(name string) string {
	switch {
	case strings.EqualFold(name, "CONDSTORE") && !s.condstore:
		s.condstore = true
		return "CONDSTORE"
	case strings.EqualFold(name, "QRESYNC") && !s.qresync:
		s.condstore, s.qresync = true, true
		return "QRESYNC"
	}
	return ""
}

// condStoreOn is called by every CONDSTORE-enabling command (RFC 7162 §3.1): the first one
// in a selected mailbox tells the client the mailbox's HIGHESTMODSEQ (§3.1.2.1).
func (s *session) condStoreOn() {
	if s.condstore {
		return
	}
	s.condstore = true
	if s.sel != nil {
		s.writeHighestModSeq(s.sel.modseq)
	}
}

func (s *session) writeHighestModSeq(modseq uint64) {
	s.enc.Untagged().Raw("OK [HIGHESTMODSEQ ").Number64(modseq).Raw("] Highest").CRLF()
}

// writeVanished reports expunged UIDs (RFC 7162 §3.2.10); earlier marks those of a resync,
// which the client may never have seen.
func (s *session) writeVanished(uids imap.UIDSet, earlier bool) error {
	s.enc.Untagged().Raw("VANISHED ")
	if earlier {
		s.enc.Raw("(EARLIER) ")
	}
	s.enc.Raw(uids.String()).CRLF()
	return s.enc.Err()
}

// flushGone tells the client of every gone message of v: EXPUNGE responses, or once QRESYNC
// is on one VANISHED with their UIDs (RFC 7162 §3.2.10).
func (s *session) flushGone(v *selected) error {
	if !s.qresync {
		return v.flushExpunges(s.writeExpunge)
	}
	var gone []uint32
	err := v.flushExpunges(func(seq uint32) error {
		gone = append(gone, v.msgs.uid(int(seq-1))) // the view still holds seq until the flush ends
		return nil
	})
	if err != nil || len(gone) == 0 {
		return err
	}
	slices.Sort(gone)
	var uids imap.UIDSet
	for _, uid := range gone {
		uids.AddNum(imap.UID(uid))
	}
	return s.writeVanished(uids, false)
}

// selectModSeq handles SELECT's and EXAMINE's CONDSTORE and QRESYNC parameters before the
// mailbox is opened.
func (s *session) selectModSeq(p *imapwire.Select) error {
	if p.QResync != nil && !s.qresync {
		return &imapwire.CommandError{Msg: "QRESYNC is not enabled"}
	}
	if p.CondStore || p.QResync != nil {
		s.condstore = true
	}
	return nil
}

// qresyncSelect answers SELECT (QRESYNC …) once the mailbox is selected: the UIDs expunged
// since the client's MODSEQ as VANISHED (EARLIER), then the flags of the messages changed
// since (RFC 7162 §3.2.5.2). A client whose UIDVALIDITY is stale gets a plain SELECT.
func (s *session) qresyncSelect(q *imapwire.QResync) error {
	v := s.sel
	if q == nil || q.UIDValidity != v.mb.UIDValidity {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	ch, err := s.srv.opts.Store.ChangesSince(ctx, v.mb.ID, q.ModSeq+1)
	if err != nil {
		return s.fail(err)
	}
	var vanished imap.UIDSet
	for _, uid := range ch.Expunged {
		if _, ok := v.index(uid); ok {
			continue // expunged after the view was read: the next poll reports it
		}
		if q.KnownUIDs == nil || q.KnownUIDs.Contains(imap.UID(uid)) {
			vanished.AddNum(imap.UID(uid))
		}
	}
	if len(vanished) > 0 {
		if err := s.writeVanished(vanished, true); err != nil {
			return err
		}
	}
	for _, m := range ch.Changed {
		// The view holds the flags as of v.modseq; a later change is the next poll's. A client
		// that named the UIDs it knows hears only of those (RFC 7162 §3.2.5.2): the rest are
		// messages it learns of from EXISTS, as in a plain SELECT.
		i, ok := v.index(m.UID)
		if !ok || m.ModSeq <= q.ModSeq || m.ModSeq > v.modseq || q.KnownUIDs != nil && !q.KnownUIDs.Contains(imap.UID(m.UID)) {
			continue
		}
		f, kw := v.msgs.state(i)
		if err := s.writeMessageFlags(uint32(i+1), m.UID, true, v.flags(m.UID, f, kw), m.ModSeq); err != nil {
			return err
		}
	}
	return nil
}

// fetchModSeq checks FETCH's MODSEQ, CHANGEDSINCE and VANISHED and, for UID FETCH
// (CHANGEDSINCE n VANISHED), reports the UIDs of set expunged since n (RFC 7162 §3.2.6).
func (s *session) fetchModSeq(cmd *command, set imap.NumSet, f *imapwire.Fetch) error {
	if f.Vanished {
		if cmd.kind != numUID || !s.qresync {
			return &imapwire.CommandError{Msg: "VANISHED needs UID FETCH and QRESYNC"}
		}
		if f.Options.ChangedSince == 0 {
			return &imapwire.CommandError{Msg: "VANISHED needs CHANGEDSINCE"}
		}
	}
	s.condStoreOn()
	if !f.Vanished {
		return nil
	}
	v := s.sel
	ctx, cancel := s.ctx()
	defer cancel()
	ch, err := s.srv.opts.Store.ChangesSince(ctx, v.mb.ID, f.Options.ChangedSince+1)
	if err != nil {
		return s.fail(err)
	}
	uids := set.(imap.UIDSet)
	top := max(v.maxUID(), v.mb.UIDNext-1)
	var vanished imap.UIDSet
	for _, uid := range ch.Expunged {
		if _, ok := v.index(uid); !ok && inUIDSet(uids, uid, top) {
			vanished.AddNum(imap.UID(uid))
		}
	}
	if len(vanished) == 0 {
		return nil
	}
	return s.writeVanished(vanished, true)
}

// unchangedSince reports whether FETCH (CHANGEDSINCE n) leaves m out: it has not changed
// since n (RFC 7162 §3.1.4).
func unchangedSince(m *mailstore.Message, o *imap.FetchOptions) bool {
	return o.ChangedSince != 0 && m.ModSeq <= o.ChangedSince
}

// storeUnchangedSince runs STORE (UNCHANGEDSINCE n) and returns the MODIFIED response code
// naming the messages that changed since n and were left alone (RFC 7162 §3.1.3), or "".
func (s *session) storeUnchangedSince(set imap.NumSet, uidCmd bool, flags *imap.StoreFlags, since uint64) (string, error) {
	s.condStoreOn()
	var kept []uint32
	var err error
	switch {
	case s.sel.readOnly:
		return "", s.readOnlyErr()
	case since == 0:
		// Every message has a MODSEQ above 0: nothing is changed (RFC 7162 §3.1.3).
		kept = s.sel.uids(s.sel.resolve(set))
	default:
		kept, err = s.Store(set, uidCmd, flags, since)
	}
	if err != nil || len(kept) == 0 {
		return "", err
	}
	var out imap.NumSet
	if uidCmd {
		var u imap.UIDSet
		for _, uid := range kept {
			u.AddNum(imap.UID(uid))
		}
		out = u
	} else {
		var seqs imap.SeqSet
		for _, uid := range kept {
			if i, ok := s.sel.index(uid); ok {
				seqs.AddNum(uint32(i + 1))
			}
		}
		out = seqs
	}
	return "MODIFIED " + out.String(), nil
}

// unchangedFailed lists the UIDs a conditional change left alone: those asked for that
// the store did not return.
func unchangedFailed(asked []uint32, res []mailstore.Message) []uint32 {
	done := make(map[uint32]bool, len(res))
	for _, m := range res {
		done[m.UID] = true
	}
	var out []uint32
	for _, uid := range asked {
		if !done[uid] {
			out = append(out, uid)
		}
	}
	return out
}

// searchModSeq is the MODSEQ a SEARCH with the MODSEQ criterion answers with: the highest
// of the messages the result reports (RFC 7162 §3.1.5, RFC 4731 with CONDSTORE).
type searchModSeq struct {
	all, min, max uint64
}

func (m *searchModSeq) value(ret *imap.SearchOptions) uint64 {
	if ret == nil || ret.ReturnAll || ret.ReturnCount || !ret.ReturnMin && !ret.ReturnMax {
		return m.all
	}
	var v uint64
	if ret.ReturnMin {
		v = m.min
	}
	if ret.ReturnMax {
		v = max(v, m.max)
	}
	return v
}

func usesModSeq(c *imap.SearchCriteria) bool {
	return anyCriteria(c, func(c *imap.SearchCriteria) bool { return c.ModSeq != nil })
}
