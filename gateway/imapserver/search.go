package imapserver

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// searcher evaluates one SEARCH. Text criteria are answered by the store's index, one query
// per distinct string; header criteria read the indexed header text; only the messages the
// index does not cover yet (pending) are read, once.
type searcher struct {
	s       *session
	ctx     context.Context
	v       *selected
	texts   map[string]map[uint32]bool // "B"+needle or "T"+needle
	headers map[uint32]string
	pending map[int64]mailstore.SearchText // by body id
	maxUID  uint32
}

func needsIndex(c *imap.SearchCriteria) bool {
	if len(c.Body) > 0 || len(c.Text) > 0 || len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		return true
	}
	for i := range c.Not {
		if needsIndex(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if needsIndex(&c.Or[i][0]) || needsIndex(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

func (s *session) Search(kind numKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	v := s.sel
	ctx, cancel := s.ctx()
	defer cancel()
	st := s.srv.opts.Store
	var pending map[int64]mailstore.SearchText
	if needsIndex(criteria) {
		// Read before the index is asked: every message not pending is in the index then.
		var err error
		if pending, err = s.srv.opts.Index.Pending(ctx, v.mb.ID); err != nil {
			return nil, s.fail(err)
		}
	}
	list, err := st.MessagesInRange(ctx, v.mb.ID, 1, ^uint32(0))
	if err != nil {
		return nil, s.fail(err)
	}
	byUID := make(map[uint32]*mailstore.Message, len(list))
	for i := range list {
		byUID[list[i].UID] = &list[i]
	}
	sr := &searcher{s: s, ctx: ctx, v: v, texts: map[string]map[uint32]bool{}, pending: pending, maxUID: v.maxUID()}
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for i, vm := range v.msgs {
		m := byUID[vm.uid]
		if m == nil || v.gone[vm.uid] {
			continue
		}
		ok, err := sr.match(criteria, m, uint32(i+1))
		if err != nil {
			return nil, s.fail(err)
		}
		if !ok {
			continue
		}
		num := uint32(i + 1)
		if kind == numUID {
			num = m.UID
			uids.AddNum(imap.UID(m.UID))
		} else {
			seqs.AddNum(num)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if kind == numUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	return data, nil
}

// contains reports whether message m's body (or with body false, its header or body) contains
// needle, from the index or, for a pending message, from its text.
func (sr *searcher) contains(m *mailstore.Message, body bool, needle string) (bool, error) {
	if needle == "" {
		return true, nil
	}
	if p, ok := sr.pending[m.BodyID]; ok {
		field := mailstore.FieldText
		if body {
			field = mailstore.FieldBody
		}
		return mailstore.TextContains(field, p.Header, p.Text, strings.ToLower(needle)), nil
	}
	set, err := sr.text(body, needle)
	return set[m.UID], err
}

func (sr *searcher) text(body bool, needle string) (map[uint32]bool, error) {
	key := "T" + needle
	field := mailstore.FieldText
	if body {
		key, field = "B"+needle, mailstore.FieldBody
	}
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

func (sr *searcher) header(m *mailstore.Message) (string, error) {
	if p, ok := sr.pending[m.BodyID]; ok {
		return p.Header, nil
	}
	uid := m.UID
	if sr.headers == nil {
		h, err := sr.s.srv.opts.Store.SearchHeaders(sr.ctx, sr.v.mb.ID)
		if err != nil {
			return "", err
		}
		sr.headers = h
	}
	return sr.headers[uid], nil
}

// headerValues returns the decoded values of the named field in an indexed header text.
func headerValues(h, key string) []string {
	var out []string
	for line := range strings.SplitSeq(h, "\n") {
		k, val, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(k, key) {
			out = append(out, val)
		}
	}
	return out
}

// addressField lists the header fields that hold addresses.
var addressField = map[string]bool{"from": true, "sender": true, "reply-to": true, "to": true, "cc": true, "bcc": true}

// withoutComments returns an address field's value without RFC 5322 comments and without
// the folding white space around "@" and ".", so that SEARCH FROM user@example.org finds
// "<user (comment) @ example.org>". Quoted strings are kept as they are; an unbalanced
// comment runs to the end. Linear in the length of v.
func withoutComments(v string) string {
	if !strings.ContainsAny(v, "()") && !strings.Contains(v, " @") && !strings.Contains(v, "@ ") {
		return v
	}
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && (quoted || depth > 0):
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		case depth > 0:
		case c == '"':
			quoted = true
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, sep := range []string{"@", "."} {
		out = strings.ReplaceAll(out, " "+sep, sep)
		out = strings.ReplaceAll(out, sep+" ", sep)
	}
	return out
}

func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func inDates(t, since, before time.Time) bool {
	d := dateOnly(t)
	return (since.IsZero() || !d.Before(since)) && (before.IsZero() || d.Before(before))
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
	n := uint32(len(sr.v.msgs))
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
	if !inDates(m.InternalDate.UTC(), c.Since, c.Before) {
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
	if len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h, err := sr.header(m)
		if err != nil {
			return false, err
		}
		for _, hf := range c.Header {
			vals := headerValues(h, hf.Key)
			if addressField[strings.ToLower(hf.Key)] {
				for _, v := range vals {
					if a := withoutComments(v); a != v {
						vals = append(vals, a)
					}
				}
			}
			if !matchValues(vals, hf.Value) {
				return false, nil
			}
		}
		if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
			vals := headerValues(h, "Date")
			if len(vals) == 0 {
				return false, nil
			}
			t, err := mail.ParseDate(vals[0])
			if err != nil || !inDates(t, c.SentSince, c.SentBefore) {
				return false, nil
			}
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

func matchValues(vals []string, pattern string) bool {
	if pattern == "" {
		return len(vals) > 0
	}
	pattern = strings.ToLower(pattern)
	for _, v := range vals {
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
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
