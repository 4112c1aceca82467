package imapserver

import (
	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
)

// SEARCHRES (RFC 5182): SEARCH ... RETURN (SAVE) keeps its result in the selected view, and
// "$" names it in the sequence sets of later commands (FETCH, STORE, COPY, MOVE, SEARCH,
// SORT, THREAD, UID EXPUNGE and their UID forms). The result is kept as UIDs: a message
// expunged later drops out of it by itself, new messages never enter it, and selecting a
// mailbox starts a new view with no result (the empty set).

// numSet is the set a command's sequence set names: "$" is the saved result.
func (v *selected) numSet(set imapwire.NumSet) imap.NumSet {
	if set.Saved {
		return v.saved
	}
	return set.Set
}

// useSaved replaces every "$" in criteria (marked by imapwire.SavedMarker) with the saved
// result. The sets of one criteria are ANDed, so a "$" read as sequence numbers can join
// the UID sets.
func (v *selected) useSaved(c *imap.SearchCriteria) {
	seqs := c.SeqNum[:0]
	var uids []imap.UIDSet
	for _, set := range c.SeqNum {
		if len(set) == 1 && set[0].Start == imapwire.SavedMarker {
			uids = append(uids, v.saved)
		} else {
			seqs = append(seqs, set)
		}
	}
	c.SeqNum = seqs
	for _, set := range c.UID {
		if len(set) == 1 && uint32(set[0].Start) == imapwire.SavedMarker {
			set = v.saved
		}
		uids = append(uids, set)
	}
	c.UID = uids
	for i := range c.Not {
		v.useSaved(&c.Not[i])
	}
	for i := range c.Or {
		v.useSaved(&c.Or[i][0])
		v.useSaved(&c.Or[i][1])
	}
}

// save keeps a SEARCH's result for "$" (RFC 5182 §2.4): with MIN and/or MAX but neither ALL
// nor COUNT only those messages, else all it found; a failed SEARCH (data nil) saves the
// empty set.
func (v *selected) save(kind numKind, data *imap.SearchData, ret *imap.SearchOptions) {
	v.saved = imap.UIDSet{}
	if data == nil {
		return
	}
	uidOf := func(n uint32) imap.UID {
		if kind == numUID {
			return imap.UID(n)
		}
		return imap.UID(v.msgs.uid(int(n) - 1))
	}
	if (ret.ReturnMin || ret.ReturnMax) && !ret.ReturnAll && !ret.ReturnCount {
		if ret.ReturnMin && data.Min > 0 {
			v.saved.AddNum(uidOf(data.Min))
		}
		if ret.ReturnMax && data.Max > 0 {
			v.saved.AddNum(uidOf(data.Max))
		}
		return
	}
	switch set := data.All.(type) {
	case imap.UIDSet:
		v.saved = append(v.saved, set...)
	case imap.SeqSet:
		nums, _ := set.Nums()
		for _, n := range nums {
			v.saved.AddNum(uidOf(n))
		}
	}
}

// onlySave reports whether RETURN asked for nothing but SAVE: such a SEARCH sends no
// ESEARCH response (RFC 5182 §2.1).
func onlySave(ret *imap.SearchOptions) bool {
	return ret.ReturnSave && !ret.ReturnMin && !ret.ReturnMax && !ret.ReturnAll && !ret.ReturnCount
}
