package imapserver

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// selected is the selected mailbox as the client knows it: the message at position i of msgs
// is sequence number i+1. A message expunged in the store stays in msgs (marked gone) until
// the client may be told. msgs starts as the Server's cached list (viewcache.go) and is
// copied at the session's first change.
type selected struct {
	mb       mailstore.Mailbox
	readOnly bool
	msgs     msgList
	modseq   uint64 // the store's HIGHESTMODSEQ this view has caught up with
	gone     map[uint32]bool
	kw       keywords // the keywords announced to the client
	// recent holds the messages that are \Recent for this session (IMAP4rev1, RFC 3501
	// §2.3.2): those it was first to see, or with EXAMINE those nobody has claimed yet.
	// Nil for a client that enabled IMAP4rev2, which has no \Recent.
	recent map[uint32]bool
	// saved is the result of the last SEARCH RETURN (SAVE), "$" (searchres.go).
	saved imap.UIDSet
	// flagBuf holds what flags returned last: a response per message needs no allocation.
	flagBuf []imap.Flag
}

// flags is a message's flags as this session shows them, valid until the next call: each
// caller writes them out at once.
func (v *selected) flags(uid uint32, f mailstore.Flags, kw []string) []imap.Flag {
	fl := v.flagBuf[:0]
	if v.recent[uid] {
		fl = append(fl, `\Recent`)
	}
	v.flagBuf = v.kw.appendFlags(fl, f, kw)
	return v.flagBuf
}

// rev1 reports whether the client speaks IMAP4rev1 (it did not ENABLE IMAP4rev2): only such
// a client is shown \Recent.
func (s *session) rev1() bool {
	return !s.rev2
}

// claimRecent marks the messages of v above the store's \Recent mark and up to upTo as
// recent for this session; with EXAMINE it shows them without claiming them.
func (s *session) claimRecent(v *selected, upTo uint32) error {
	if v.recent == nil || upTo == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var from uint32
	var err error
	if v.readOnly {
		from, err = s.srv.opts.Store.RecentMark(ctx, v.mb.ID)
	} else {
		from, err = s.srv.opts.Store.ClaimRecent(ctx, v.mb.ID, upTo)
	}
	if err != nil {
		return err
	}
	for i := v.msgs.len() - 1; i >= 0 && v.msgs.uid(i) > from; i-- {
		if uid := v.msgs.uid(i); uid <= upTo {
			v.recent[uid] = true
		}
	}
	return nil
}

// index returns the position of uid in the view.
func (v *selected) index(uid uint32) (int, bool) {
	return v.msgs.search(uid)
}

func (v *selected) maxUID() uint32 {
	if v.msgs.len() == 0 {
		return 0
	}
	return v.msgs.uid(v.msgs.len() - 1)
}

var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

var flagBits = map[imap.Flag]mailstore.Flags{
	imap.FlagSeen: mailstore.FlagSeen, imap.FlagAnswered: mailstore.FlagAnswered, imap.FlagFlagged: mailstore.FlagFlagged,
	imap.FlagDeleted: mailstore.FlagDeleted, imap.FlagDraft: mailstore.FlagDraft,
}

// storeFlags splits IMAP flags into system flags and keywords. \Recent and unknown system
// flags are ignored.
func storeFlags(flags []imap.Flag) (mailstore.Flags, []string) {
	var f mailstore.Flags
	var kw []string
	for _, fl := range flags {
		if strings.HasPrefix(string(fl), `\`) {
			for name, bit := range flagBits {
				if strings.EqualFold(string(name), string(fl)) {
					f |= bit
				}
			}
			continue
		}
		kw = append(kw, string(fl))
	}
	return f, kw
}

func sameFlags(a mailstore.Flags, akw []string, b mailstore.Flags, bkw []string) bool {
	if a != b || len(akw) != len(bkw) {
		return false
	}
	for i := range akw {
		if akw[i] != bkw[i] {
			return false
		}
	}
	return true
}

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	mb, err := s.mailbox(name)
	if err != nil {
		return nil, s.fail(err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	v, firstUnseen, err := s.srv.views.selected(ctx, s.srv.opts.Store, mb)
	if err != nil {
		return nil, s.fail(err)
	}
	v.readOnly = options.ReadOnly
	if s.rev1() {
		v.recent = map[uint32]bool{}
		if err := s.claimRecent(v, v.maxUID()); err != nil {
			return nil, s.fail(err)
		}
	}
	s.sel = v
	return &imap.SelectData{
		NumRecent:         uint32(len(v.recent)),
		Flags:             v.kw.mailboxFlags(),
		PermanentFlags:    v.kw.permanentFlags(v.readOnly),
		NumMessages:       uint32(v.msgs.len()),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(v.mb.UIDNext),
		UIDValidity:       v.mb.UIDValidity,
	}, nil
}

func (s *session) Unselect() error {
	s.sel = nil
	return nil
}

// Poll brings the client up to date with the store: new messages (EXISTS), flag changes
// (FETCH FLAGS) and, where allowed, expunges.
func (s *session) Poll(allowExpunge bool) error {
	v := s.sel
	if v == nil {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	hm, err := s.readModSeq, error(nil)
	s.readModSeq = 0
	if hm == 0 {
		hm, err = s.srv.opts.Store.HighestModSeq(ctx, v.mb.ID)
	}
	if err == mailstore.ErrNotFound {
		return nil // deleted under us; nothing more will change
	}
	if err != nil {
		return s.fail(err)
	}
	if hm != v.modseq {
		ch, err := s.srv.opts.Store.ChangesSince(ctx, v.mb.ID, v.modseq)
		if err != nil {
			return s.fail(err)
		}
		for _, uid := range ch.Expunged {
			if _, ok := v.index(uid); ok {
				v.gone[uid] = true
			}
		}
		var added []mailstore.Message
		maxUID := v.maxUID()
		for _, m := range ch.Changed {
			i, ok := v.index(m.UID)
			switch {
			case ok && !v.gone[m.UID]:
				if f, kw := v.msgs.state(i); !sameFlags(f, kw, m.Flags, m.Keywords) {
					v.msgs.set(i, m.Flags, m.Keywords)
					if err := s.announce(m.Keywords); err != nil {
						return err
					}
					if err := s.writeMessageFlags(uint32(i+1), m.UID, true, v.flags(m.UID, m.Flags, m.Keywords), m.ModSeq); err != nil {
						return err
					}
				}
			case !ok && m.UID > maxUID:
				added = append(added, m)
			}
		}
		v.modseq = ch.HighestModSeq
		if allowExpunge {
			// With new messages the RECENT count follows their EXISTS.
			tell := s.tellExpunges
			if len(added) > 0 {
				tell = func() error { return s.flushGone(v) }
			}
			if err := tell(); err != nil {
				return err
			}
		}
		if len(added) > 0 {
			// New messages' keywords are announced as they arrive, not at their first FETCH.
			var kw []string
			for _, m := range added {
				kw = append(kw, m.Keywords...)
			}
			if err := s.announce(kw); err != nil {
				return err
			}
			for _, m := range added {
				v.msgs.add(m.UID, m.Flags, m.Keywords)
			}
			if err := s.claimRecent(v, v.maxUID()); err != nil {
				return s.fail(err)
			}
			if err := s.writeExists(uint32(v.msgs.len())); err != nil {
				return err
			}
			if v.recent != nil {
				if err := s.writeRecent(uint32(len(v.recent))); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if allowExpunge {
		return s.tellExpunges()
	}
	return nil
}

// tellExpunges sends the EXPUNGEs of the gone messages and, to an IMAP4rev1 client whose
// recent count they lowered, the new RECENT count: RFC 3501 §7.3.2 has RECENT sent whenever
// the count changes, and clients that track it (imaptest among them) rely on it.
func (s *session) tellExpunges() error {
	v := s.sel
	before := len(v.recent)
	if err := s.flushGone(v); err != nil {
		return err
	}
	if v.recent != nil && len(v.recent) != before {
		return s.writeRecent(uint32(len(v.recent)))
	}
	return nil
}

// flushExpunges tells the client of every gone message, highest sequence number first so
// that each number is right when it is sent.
func (v *selected) flushExpunges(write func(seq uint32) error) error {
	if len(v.gone) == 0 {
		return nil
	}
	// Told from the highest sequence number down, each number is still right when the client
	// reads it; the view is compacted once afterwards (removing each message in place would
	// move the rest of the view once per expunged message).
	told := make(map[uint32]bool, len(v.gone))
	var err error
	for i := v.msgs.len() - 1; i >= 0; i-- {
		uid := v.msgs.uid(i)
		if !v.gone[uid] {
			continue
		}
		if err = write(uint32(i + 1)); err != nil {
			break
		}
		told[uid] = true
	}
	v.msgs.keep(func(uid uint32) bool {
		if told[uid] {
			delete(v.gone, uid)
			delete(v.recent, uid)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	clear(v.gone)
	return nil
}

// resolve turns a sequence or UID set into the view's positions, in order. "*" is the last
// message (or the highest UID); gone messages are left out.
func (v *selected) resolve(numSet imap.NumSet) []int {
	var out []int
	switch set := numSet.(type) {
	case imap.SeqSet:
		n := uint32(v.msgs.len())
		for _, r := range set {
			lo, hi := staticRange(r.Start, r.Stop, n)
			if n == 0 {
				continue
			}
			for seq := lo; seq <= hi && seq <= n; seq++ {
				if seq >= 1 && !v.gone[v.msgs.uid(int(seq-1))] {
					out = append(out, int(seq-1))
				}
			}
		}
	case imap.UIDSet:
		max := v.maxUID()
		if uidNext := v.mb.UIDNext; uidNext > 0 && uidNext-1 > max {
			max = uidNext - 1
		}
		for _, r := range set {
			lo, hi := staticRange(uint32(r.Start), uint32(r.Stop), max)
			i, _ := v.index(lo)
			for ; i < v.msgs.len() && v.msgs.uid(i) <= hi; i++ {
				if !v.gone[v.msgs.uid(i)] {
					out = append(out, i)
				}
			}
		}
	}
	sort.Ints(out)
	return dedup(out)
}

// checkSeqs refuses a sequence set that names a message past the last one: there is no such
// message, and RFC 9051 §9 makes such a number invalid (Dovecot answers BAD too). "*" is
// always valid; UID sets may name UIDs that do not exist.
func (v *selected) checkSeqs(numSet imap.NumSet) error {
	set, ok := numSet.(imap.SeqSet)
	if !ok {
		return nil
	}
	n := uint32(v.msgs.len())
	for _, r := range set {
		if r.Start > n || r.Stop > n {
			return badState("Invalid sequence number: past the last message")
		}
	}
	return nil
}

func staticRange(start, stop, max uint32) (uint32, uint32) {
	if start == 0 {
		start = max
	}
	if stop == 0 {
		stop = max
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}

func dedup(a []int) []int {
	out := a[:0]
	for i, x := range a {
		if i == 0 || x != a[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (v *selected) uids(pos []int) []uint32 {
	out := make([]uint32, len(pos))
	for i, p := range pos {
		out[i] = v.msgs.uid(p)
	}
	return out
}

func (s *session) readOnlyErr() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only"}
}

func (s *session) Expunge(writeExpunge func(seq uint32) error, uids *imap.UIDSet) error {
	v := s.sel
	if v.readOnly {
		if uids == nil {
			// CLOSE after EXAMINE removes nothing and is no error (RFC 9051 §6.4.1), and
			// neither is an EXPUNGE that has nothing it may remove.
			return nil
		}
		return s.readOnlyErr()
	}
	var only []uint32
	if uids != nil {
		only = v.uids(v.resolve(*uids))
		if len(only) == 0 {
			return nil
		}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	removed, err := s.srv.opts.Store.ExpungeDeleted(ctx, v.mb.ID, only)
	if err != nil {
		return s.fail(err)
	}
	for _, uid := range removed {
		if _, ok := v.index(uid); ok {
			v.gone[uid] = true
		}
	}
	if len(removed) > 0 {
		s.changed()
	}
	if writeExpunge == nil { // CLOSE: the client is not told
		return nil
	}
	return s.tellExpunges()
}

// Store changes flags; with unchangedSince (STORE UNCHANGEDSINCE) only of the messages not
// changed since, and it returns the UIDs of the others.
func (s *session) Store(numSet imap.NumSet, uidCmd bool, flags *imap.StoreFlags, unchangedSince uint64) ([]uint32, error) {
	v := s.sel
	if v.readOnly {
		return nil, s.readOnlyErr()
	}
	pos := v.resolve(numSet)
	if len(pos) == 0 {
		return nil, nil
	}
	f, kw := storeFlags(flags.Flags)
	if flags.Op != imap.StoreFlagsDel {
		if err := v.checkStoreKeywords(kw); err != nil {
			return nil, err
		}
	}
	ch := mailstore.FlagChange{Flags: f, Keywords: kw, UnchangedSince: unchangedSince}
	switch flags.Op {
	case imap.StoreFlagsAdd:
		ch.Op = mailstore.FlagsAdd
	case imap.StoreFlagsDel:
		ch.Op = mailstore.FlagsRemove
	default:
		ch.Op = mailstore.FlagsReplace
	}
	asked := v.uids(pos)
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := s.srv.opts.Store.UpdateFlags(ctx, v.mb.ID, asked, ch)
	if err != nil {
		return nil, s.fail(err)
	}
	s.changed()
	for _, m := range res {
		i, ok := v.index(m.UID)
		if !ok {
			continue
		}
		f, kw := v.msgs.state(i)
		changed := !sameFlags(f, kw, m.Flags, m.Keywords)
		v.msgs.set(i, m.Flags, m.Keywords)
		if err := s.announce(m.Keywords); err != nil {
			return nil, err
		}
		fl := v.flags(m.UID, m.Flags, m.Keywords)
		if flags.Silent {
			if !s.condstore || !changed {
				continue
			}
			fl = nil // RFC 7162 §3.1.3: the new MODSEQ even so
		}
		if err := s.writeMessageFlags(uint32(i+1), m.UID, uidCmd, fl, m.ModSeq); err != nil {
			return nil, err
		}
	}
	if unchangedSince == 0 {
		return nil, nil
	}
	return unchangedFailed(asked, res), nil
}

func (s *session) copyTo(numSet imap.NumSet, dest string, move bool) (*imap.CopyData, []uint32, error) {
	v := s.sel
	if move && v.readOnly {
		return nil, nil, s.readOnlyErr()
	}
	dst, err := s.mailbox(dest)
	if err == mailstore.ErrNotFound {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	if err != nil {
		return nil, nil, s.fail(err)
	}
	if err := v.checkSeqs(numSet); err != nil {
		return nil, nil, err
	}
	pos := v.resolve(numSet)
	if len(pos) == 0 {
		return nil, nil, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := s.srv.opts.Store.CopyMessages(ctx, v.mb.ID, dst.ID, v.uids(pos), move)
	if err != nil {
		return nil, nil, s.fail(err)
	}
	s.changed()
	data := &imap.CopyData{UIDValidity: res.UIDValidity}
	for i := range res.Source {
		data.SourceUIDs.AddNum(imap.UID(res.Source[i]))
		data.DestUIDs.AddNum(imap.UID(res.Dest[i]))
	}
	return data, res.Source, nil
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	data, _, err := s.copyTo(numSet, dest, false)
	if data == nil && err == nil {
		// Nothing to copy: RFC 9051 still answers OK, without COPYUID.
		return &imap.CopyData{}, nil
	}
	return data, err
}

func (s *session) Move(numSet imap.NumSet, dest string) error {
	data, moved, err := s.copyTo(numSet, dest, true)
	if err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	if err := s.writeCopyUID(data); err != nil {
		return err
	}
	v := s.sel
	for _, uid := range moved {
		if _, ok := v.index(uid); ok {
			v.gone[uid] = true
		}
	}
	return s.tellExpunges()
}
