package imapserver

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// searcher evaluates one SEARCH over the session's view, a chunk of messages at a time, so
// that what it holds grows with the chunk, not the mailbox. Text criteria are answered by the
// store's index, one query per distinct string; header criteria read the indexed header text
// of a chunk when a message of it may match (for most fields the index names the candidates
// first); only the messages the index does not cover yet (pending) are read, a chunk at a
// time, and matched as they are read.
type searcher struct {
	s      *session
	ctx    context.Context
	v      *selected
	maxUID uint32
	texts  map[string]map[uint32]bool // "B"+needle, "T"+needle, "H"+needle: hits in the index
	// pending lists the bodies the index did not cover when the search began, ascending;
	// want is what of their text the criteria look at.
	pending []int64
	want    mailindex.Parts
	// needMsg: the criteria look at what only the store's message rows hold (dates, sizes,
	// the current flags) or pending is not empty (a message's body id says whether it is).
	needMsg bool
	// The current chunk: its UID range, its messages from the store (needMsg), the texts of
	// its pending messages by body id, and its indexed header texts (read when first needed).
	lo, hi      uint32
	msgs        map[uint32]*mailstore.Message
	chunkTexts  map[int64]mailstore.SearchText
	headers     map[uint32]string
	headersRead bool
	// fields: for each header criterion, whether the store keeps its field apart and, if so,
	// the store's answer, asked at the first need.
	fields map[*imap.SearchCriteriaHeaderField]keptField
}

// searchChunk is how many messages of the view a SEARCH reads from the store at a time.
const searchChunk = 4096

func needsIndex(c *imap.SearchCriteria) bool {
	return anyCriteria(c, func(c *imap.SearchCriteria) bool {
		return len(c.Body) > 0 || len(c.Text) > 0 || len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero()
	})
}

// pendingParts returns what a search with criteria c reads of a message the index does not
// cover: BODY its text parts, HEADER and SENTSINCE/SENTBEFORE its header, TEXT both.
func pendingParts(c *imap.SearchCriteria) mailindex.Parts {
	var want mailindex.Parts
	anyCriteria(c, func(c *imap.SearchCriteria) bool {
		if len(c.Body) > 0 || len(c.Text) > 0 {
			want |= mailindex.PartText
		}
		if len(c.Text) > 0 || len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
			want |= mailindex.PartHeader
		}
		return false
	})
	return want
}

// needsRows reports whether the criteria look at a message's date, size or flags, which a
// SEARCH takes from the store's rows rather than from the session's view.
func needsRows(c *imap.SearchCriteria) bool {
	return anyCriteria(c, func(c *imap.SearchCriteria) bool {
		return !c.Since.IsZero() || !c.Before.IsZero() || c.Larger != 0 || c.Smaller != 0 || len(c.Flag) > 0 || len(c.NotFlag) > 0 ||
			c.ModSeq != nil
	})
}

// anyCriteria reports whether f holds for c or any criteria nested in it.
func anyCriteria(c *imap.SearchCriteria, f func(*imap.SearchCriteria) bool) bool {
	if f(c) {
		return true
	}
	for i := range c.Not {
		if anyCriteria(&c.Not[i], f) {
			return true
		}
	}
	for i := range c.Or {
		if anyCriteria(&c.Or[i][0], f) || anyCriteria(&c.Or[i][1], f) {
			return true
		}
	}
	return false
}

func (s *session) Search(kind numKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	ctx, progress, cancel := searchCtx()
	defer cancel()
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	var ms searchModSeq
	err := s.searchView(ctx, progress, criteria, func(seq, uid uint32, modseq uint64) {
		num := seq
		if kind == numUID {
			num = uid
			uids.AddNum(imap.UID(uid))
		} else {
			seqs.AddNum(num)
		}
		if data.Min == 0 || num < data.Min {
			data.Min, ms.min = num, modseq
		}
		if num > data.Max {
			data.Max, ms.max = num, modseq
		}
		ms.all = max(ms.all, modseq)
		data.Count++
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause // a store call cut short says so in its own words
		}
		return nil, s.fail(err)
	}
	if usesModSeq(criteria) {
		s.condStoreOn()
		data.ModSeq = ms.value(options)
	}
	if kind == numUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	return data, nil
}

// searchCtx bounds a search's store work as session.ctx bounds a command's, but chunk by chunk:
// progress, called after each chunk of the mailbox, gives the search another opTimeout. A
// search that reads the texts of many messages the index lacks (the first after a large
// delivery: minutes for a million messages) takes what it needs, and one that stalls ends.
// The context's cause is context.DeadlineExceeded when it ran out.
func searchCtx() (ctx context.Context, progress func(), cancel func()) {
	ctx, stop := context.WithCancelCause(context.Background())
	t := time.AfterFunc(opTimeout, func() { stop(context.DeadlineExceeded) })
	return ctx, func() { t.Reset(opTimeout) }, func() { t.Stop(); stop(context.Canceled) }
}

// searchView calls hit, in sequence order, for each message of the selected mailbox that
// matches criteria; progress is called after each chunk.
func (s *session) searchView(ctx context.Context, progress func(), criteria *imap.SearchCriteria, hit func(seq, uid uint32, modseq uint64)) error {
	v := s.sel
	sr := &searcher{s: s, ctx: ctx, v: v, texts: map[string]map[uint32]bool{}, maxUID: v.maxUID()}
	if needsIndex(criteria) {
		// Read before the index is asked: every message not pending is in the index then.
		var err error
		if sr.pending, err = s.srv.opts.Index.Unindexed(ctx, v.mb.ID, v.mb.UIDValidity); err != nil {
			return err
		}
		sr.want = pendingParts(criteria)
	}
	if len(sr.pending) > 0 {
		defer s.srv.opts.Index.Scanning()()
	}
	sr.needMsg = len(sr.pending) > 0 || s.searchNeedsRows(ctx, criteria)
	var fromView mailstore.Message // a message known by the view alone, one at a time
	for start := 0; start < v.msgs.len(); start += searchChunk {
		end := min(start+searchChunk, v.msgs.len())
		if err := sr.readChunk(v.msgs.uid(start), v.msgs.uid(end-1)); err != nil {
			return err
		}
		for i := start; i < end; i++ {
			uid := v.msgs.uid(i)
			if v.gone[uid] {
				continue
			}
			m := sr.msgs[uid]
			if sr.needMsg && m == nil {
				continue // expunged in the store
			}
			if m == nil {
				f, kw := v.msgs.state(i)
				fromView = mailstore.Message{UID: uid, Flags: f, Keywords: kw}
				m = &fromView
			}
			ok, err := sr.match(criteria, m, uint32(i+1))
			if err != nil {
				return err
			}
			if ok {
				hit(uint32(i+1), uid, m.ModSeq)
			}
		}
		progress()
	}
	return nil
}

// readChunk makes the messages with lo <= UID <= hi the current chunk: their rows, when the
// criteria need them, and the texts of those of them that are pending.
func (sr *searcher) readChunk(lo, hi uint32) error {
	sr.lo, sr.hi = lo, hi
	sr.msgs, sr.chunkTexts, sr.headers, sr.headersRead = nil, nil, nil, false
	if !sr.needMsg {
		return nil
	}
	list, err := sr.s.srv.opts.Store.MessagesInRange(sr.ctx, sr.v.mb.ID, lo, hi)
	if err != nil {
		return err
	}
	sr.msgs = make(map[uint32]*mailstore.Message, len(list))
	var ids []int64
	for i := range list {
		sr.msgs[list[i].UID] = &list[i]
		if _, ok := slices.BinarySearch(sr.pending, list[i].BodyID); ok {
			ids = append(ids, list[i].BodyID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sr.chunkTexts = make(map[int64]mailstore.SearchText, len(ids))
	return sr.s.srv.opts.Index.Texts(sr.ctx, ids, sr.want, func(t mailstore.SearchText) error {
		t.RawHeader, t.Envelope = nil, nil // only the decoded text is matched
		sr.chunkTexts[t.BodyID] = t
		return nil
	})
}

// contains reports whether message m's body (or with body false, its header or body) contains
// needle, from the index or, for a pending message, from its text.
func (sr *searcher) contains(m *mailstore.Message, body bool, needle string) (bool, error) {
	if needle == "" {
		return true, nil
	}
	field := mailstore.FieldText
	if body {
		field = mailstore.FieldBody
	}
	if p, ok := sr.chunkTexts[m.BodyID]; ok {
		return mailstore.TextContains(field, p.Header, p.Text, strings.ToLower(needle)), nil
	}
	set, err := sr.text(field, needle)
	return set[m.UID], err
}

func (sr *searcher) text(field mailstore.TextField, needle string) (map[uint32]bool, error) {
	key := string("BTH"[field]) + needle
	if set, ok := sr.texts[key]; ok {
		return set, nil
	}
	set, err := sr.s.srv.opts.Store.SearchTextUIDs(sr.ctx, sr.v.mb.ID, field, needle)
	if err != nil {
		return nil, err
	}
	sr.texts[key] = set
	return set, nil
}

// header returns the decoded header text of message m: a pending message's from its text,
// an indexed one's from the chunk's header texts, read at the first need.
func (sr *searcher) header(m *mailstore.Message) (string, error) {
	if p, ok := sr.chunkTexts[m.BodyID]; ok {
		return p.Header, nil
	}
	if !sr.headersRead {
		h, err := sr.s.srv.opts.Store.SearchHeaders(sr.ctx, sr.v.mb.ID, sr.lo, sr.hi)
		if err != nil {
			return "", err
		}
		sr.headers, sr.headersRead = h, true
	}
	return sr.headers[m.UID], nil
}

// headerMatch reports whether message m has the header field of hf with a value that
// contains hf's (mailstore.HeaderFieldMatch): a pending message by its text; an indexed one by
// the store's kept text of the field when the store keeps it (mailstore.SearchFieldColumn),
// else by its header text where the index names it as a candidate. A message indexed before
// the store kept its fields is compared by its header text.
func (sr *searcher) headerMatch(m *mailstore.Message, hf *imap.SearchCriteriaHeaderField) (bool, error) {
	if p, ok := sr.chunkTexts[m.BodyID]; ok {
		return fieldMatch(p.Header, hf.Key, hf.Value), nil
	}
	kf, err := sr.keptField(hf)
	if err != nil {
		return false, err
	}
	if kf.kept {
		if hit := kf.fm.Hit(m.UID); hit || !kf.fm.IsUnknown(m.UID) {
			return hit, nil
		}
	} else if ok, err := sr.mayHaveHeader(m, hf.Key, hf.Value); err != nil || !ok {
		return false, err
	}
	h, err := sr.header(m)
	if err != nil {
		return false, err
	}
	return fieldMatch(h, hf.Key, hf.Value), nil
}

// fieldMatch reports whether a decoded header text has field key with a value containing
// value.
func fieldMatch(header, key, value string) bool {
	text, ok := mailstore.HeaderFieldText(header, key)
	return ok && mailstore.HeaderFieldMatch(text, value)
}

// keptField is what a search knows of one header criterion's field: whether the store keeps
// it apart and, if so, the store's answer.
type keptField struct {
	kept bool
	fm   mailstore.FieldMatches
}

// keptField asks the store, once per search and criterion, which messages' field holds the
// criterion's string, when the store keeps that field apart.
func (sr *searcher) keptField(hf *imap.SearchCriteriaHeaderField) (keptField, error) {
	if kf, ok := sr.fields[hf]; ok {
		return kf, nil
	}
	var kf keptField
	if _, kf.kept = mailstore.SearchFieldColumn(hf.Key); kf.kept {
		var err error
		if kf.fm, err = sr.s.srv.opts.Store.SearchFieldUIDs(sr.ctx, sr.v.mb.ID, hf.Key, hf.Value); err != nil {
			return kf, err
		}
	}
	if sr.fields == nil {
		sr.fields = map[*imap.SearchCriteriaHeaderField]keptField{}
	}
	sr.fields[hf] = kf
	return kf, nil
}

// mayHaveHeader reports whether an indexed message may hold a header field whose value
// contains value, by the index's header text: when it says no, the field need not be read.
// The index is asked only where its answer is exact enough: an ASCII value of three
// characters or more (what trigrams find, case-folded as strings.ToLower does), and not for
// address fields, whose values are matched without their comments as well
// (mimeutil.WithoutComments), a string the header text need not contain.
func (sr *searcher) mayHaveHeader(m *mailstore.Message, key, value string) (bool, error) {
	if len(value) < 3 || mailstore.IsAddressField(key) || !isASCII(value) {
		return true, nil
	}
	set, err := sr.text(mailstore.FieldHeader, value)
	return set[m.UID], err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// inDates reports whether t's date (in t's own zone) is in [since, before): SENTSINCE and
// SENTBEFORE.
func inDates(t, since, before time.Time) bool {
	if since.IsZero() && before.IsZero() {
		return true // most searches: no date to compute for each message
	}
	return inInterval(dateOnly(t), since, before)
}

// inInterval reports whether t is in [since, before). SINCE and BEFORE are dates at midnight
// UTC and the internal date is compared in UTC, so a date and an instant of WITHIN (RFC 5032)
// bound it alike.
func inInterval(t, since, before time.Time) bool {
	return (since.IsZero() || !t.Before(since)) && (before.IsZero() || t.Before(before))
}

func (sr *searcher) hasFlag(m *mailstore.Message, fl imap.Flag) bool {
	if strings.EqualFold(string(fl), `\Recent`) {
		return sr.v.recent[m.UID] // none for an IMAP4rev2 client
	}
	if strings.HasPrefix(string(fl), `\`) {
		f, _ := storeFlags([]imap.Flag{fl})
		return f != 0 && m.Flags&f == f
	}
	for _, k := range m.Keywords {
		if strings.EqualFold(k, string(fl)) {
			return true
		}
	}
	return false
}

func (sr *searcher) match(c *imap.SearchCriteria, m *mailstore.Message, seq uint32) (bool, error) {
	n := uint32(sr.v.msgs.len())
	for _, set := range c.SeqNum {
		if !inSet(set, seq, n) {
			return false, nil
		}
	}
	for _, set := range c.UID {
		if !inUIDSet(set, m.UID, sr.maxUID) {
			return false, nil
		}
	}
	if c.ModSeq != nil && m.ModSeq < c.ModSeq.ModSeq {
		return false, nil
	}
	if !inInterval(m.InternalDate, c.Since, c.Before) {
		return false, nil
	}
	for _, fl := range c.Flag {
		if !sr.hasFlag(m, fl) {
			return false, nil
		}
	}
	for _, fl := range c.NotFlag {
		if sr.hasFlag(m, fl) {
			return false, nil
		}
	}
	if c.Larger != 0 && m.Size <= c.Larger || c.Smaller != 0 && m.Size >= c.Smaller {
		return false, nil
	}
	for _, needle := range c.Body {
		if ok, err := sr.contains(m, true, needle); err != nil || !ok {
			return false, err
		}
	}
	for _, needle := range c.Text {
		if ok, err := sr.contains(m, false, needle); err != nil || !ok {
			return false, err
		}
	}
	for i := range c.Header {
		if ok, err := sr.headerMatch(m, &c.Header[i]); err != nil || !ok {
			return false, err
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h, err := sr.header(m)
		if err != nil {
			return false, err
		}
		vals := mailstore.HeaderValues(h, "Date")
		if len(vals) == 0 {
			return false, nil
		}
		t, err := mail.ParseDate(vals[0])
		if err != nil || !inDates(t, c.SentSince, c.SentBefore) {
			return false, nil
		}
	}
	for i := range c.Not {
		ok, err := sr.match(&c.Not[i], m, seq)
		if err != nil || ok {
			return false, err
		}
	}
	for i := range c.Or {
		a, err := sr.match(&c.Or[i][0], m, seq)
		if err != nil {
			return false, err
		}
		if a {
			continue
		}
		b, err := sr.match(&c.Or[i][1], m, seq)
		if err != nil || !b {
			return false, err
		}
	}
	return true, nil
}

func inSet(set imap.SeqSet, num, max uint32) bool {
	for _, r := range set {
		lo, hi := staticRange(r.Start, r.Stop, max)
		if num >= lo && num <= hi {
			return true
		}
	}
	return false
}

func inUIDSet(set imap.UIDSet, uid, max uint32) bool {
	for _, r := range set {
		lo, hi := staticRange(uint32(r.Start), uint32(r.Stop), max)
		if uid >= lo && uid <= hi {
			return true
		}
	}
	return false
}
