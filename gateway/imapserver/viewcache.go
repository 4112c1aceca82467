package imapserver

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// msgList is the messages of a mailbox view in UID order, as parallel arrays: UID, system
// flags and an index into a table of distinct keyword lists (0: none), 10 bytes a message.
// A list may be shared by the view cache and any number of sessions; it is then never
// changed, and a session's first change copies it (own).
type msgList struct {
	uids   []uint32
	flags  []mailstore.Flags
	kwSet  []uint32
	kw     *kwTable
	shared bool
}

// kwTable interns keyword lists: a mailbox has few distinct combinations of keywords, so a
// message holds an index instead of a slice of its own.
type kwTable struct {
	sets  [][]string        // sets[0] is the empty list
	index map[string]uint32 // keywords joined by " " → index in sets
}

func newKWTable() *kwTable {
	return &kwTable{sets: [][]string{nil}, index: map[string]uint32{"": 0}}
}

func (t *kwTable) intern(kw []string) uint32 {
	if len(kw) == 0 {
		return 0
	}
	key := strings.Join(kw, " ")
	if i, ok := t.index[key]; ok {
		return i
	}
	i := uint32(len(t.sets))
	t.sets = append(t.sets, slices.Clone(kw))
	t.index[key] = i
	return i
}

func newMsgList(capacity int) msgList {
	return msgList{uids: make([]uint32, 0, capacity), flags: make([]mailstore.Flags, 0, capacity),
		kwSet: make([]uint32, 0, capacity), kw: newKWTable()}
}

func (l *msgList) len() int         { return len(l.uids) }
func (l *msgList) uid(i int) uint32 { return l.uids[i] }

// state returns the flags and keywords of the message at position i. The keyword slice is
// shared: callers do not change it.
func (l *msgList) state(i int) (mailstore.Flags, []string) {
	return l.flags[i], l.kw.sets[l.kwSet[i]]
}

// share marks l as shared and returns it: whoever holds l or the result copies before a change.
func (l *msgList) share() msgList {
	l.shared = true
	return *l
}

// own makes l's arrays l's own before a change.
func (l *msgList) own() {
	if !l.shared {
		return
	}
	l.uids, l.flags, l.kwSet = slices.Clone(l.uids), slices.Clone(l.flags), slices.Clone(l.kwSet)
	l.kw = &kwTable{sets: slices.Clone(l.kw.sets), index: maps.Clone(l.kw.index)}
	l.shared = false
}

func (l *msgList) set(i int, f mailstore.Flags, kw []string) {
	if cur, curKW := l.state(i); cur == f && slices.Equal(curKW, kw) {
		return
	}
	l.own()
	l.flags[i], l.kwSet[i] = f, l.kw.intern(kw)
}

func (l *msgList) add(uid uint32, f mailstore.Flags, kw []string) {
	l.own()
	l.uids = append(l.uids, uid)
	l.flags = append(l.flags, f)
	l.kwSet = append(l.kwSet, l.kw.intern(kw))
}

// keep leaves in l the messages for which keep is true, in order.
func (l *msgList) keep(keep func(uid uint32) bool) {
	l.own()
	n := 0
	for i, uid := range l.uids {
		if keep(uid) {
			l.uids[n], l.flags[n], l.kwSet[n] = uid, l.flags[i], l.kwSet[i]
			n++
		}
	}
	l.uids, l.flags, l.kwSet = l.uids[:n], l.flags[:n], l.kwSet[:n]
}

// search returns the position of uid, or where it would go.
func (l *msgList) search(uid uint32) (int, bool) {
	return slices.BinarySearch(l.uids, uid)
}

// viewCache holds, per mailbox, the newest list of its messages a session of this Server has
// read, so that a SELECT does not read every message of a large mailbox again. The store stays
// the truth: each use compares the cached list with the mailbox's HIGHESTMODSEQ,
// UIDVALIDITY and message count (one row), and brings it up to date from the store's MODSEQ
// and expunge log (ChangesSince), which costs what changed, not the mailbox. A mismatch that
// the log does not explain (a message count that differs at the same MODSEQ) makes it read
// the mailbox again. The lists are shared with the sessions that selected them and never
// changed; a session copies its list at its first change.
type viewCache struct {
	mu      sync.Mutex
	slots   map[int64]*viewSlot
	held    int // messages in the cached lists
	maxHeld int
	tick    uint64
}

// viewCacheMessages bounds the messages the cache holds over all mailboxes (about 10 bytes
// each); the least recently selected mailboxes leave first.
const viewCacheMessages = 8 << 20

// viewCacheMailboxes bounds the mailboxes the cache remembers.
const viewCacheMailboxes = 4096

// viewSlot serializes the loading of one mailbox's view, so that sessions selecting it
// together read it once.
type viewSlot struct {
	mu   sync.Mutex
	view *mailboxView // nil until loaded; guarded by mu
	// used and size (the messages of view) are guarded by viewCache.mu.
	used uint64
	size int
}

// mailboxView is a mailbox's messages at one MODSEQ, with what SELECT reports about them.
type mailboxView struct {
	uidValidity uint32
	modseq      uint64
	msgs        msgList  // shared
	keywords    []string // held by some message, in order of first UID
	firstUnseen uint32   // sequence number, 0 when every message is seen
}

func newViewCache(maxHeld int) *viewCache {
	return &viewCache{slots: map[int64]*viewSlot{}, maxHeld: maxHeld}
}

// view returns the mailbox's messages as they are in the store now (or later), and the
// mailbox's state read to check them.
func (c *viewCache) view(ctx context.Context, st Store, mailboxID int64) (*mailboxView, mailstore.MailboxCounts, error) {
	c.mu.Lock()
	sl := c.slots[mailboxID]
	if sl == nil {
		sl = &viewSlot{}
		c.slots[mailboxID] = sl
	}
	c.tick++
	sl.used = c.tick
	c.mu.Unlock()

	sl.mu.Lock()
	defer sl.mu.Unlock()
	counts, err := st.MailboxStatus(ctx, mailboxID)
	if err != nil {
		return nil, counts, err
	}
	old := sl.view
	v, err := catchUp(ctx, st, mailboxID, old, counts)
	if err != nil {
		return nil, counts, err
	}
	if v != old {
		sl.view = v
		c.mu.Lock()
		if c.slots[mailboxID] == sl { // not evicted meanwhile
			c.held += v.msgs.len() - sl.size
			sl.size = v.msgs.len()
			c.evict(sl)
		}
		c.mu.Unlock()
	}
	return v, counts, nil
}

// catchUp returns old when it matches counts, old brought up to date from the store's log,
// or the mailbox read whole.
func catchUp(ctx context.Context, st Store, mailboxID int64, old *mailboxView, counts mailstore.MailboxCounts) (*mailboxView, error) {
	if old != nil && old.uidValidity == counts.UIDValidity && old.modseq <= counts.HighestModSeq {
		if old.modseq == counts.HighestModSeq && uint32(old.msgs.len()) == counts.Messages {
			return old, nil
		}
		ch, err := st.ChangesSince(ctx, mailboxID, old.modseq)
		if err != nil {
			return nil, err
		}
		v := old.apply(ch)
		// At the MODSEQ the counts were read at, the count must agree; a later MODSEQ may
		// have changed it.
		if ch.HighestModSeq != counts.HighestModSeq || uint32(v.msgs.len()) == counts.Messages {
			return v, nil
		}
	}
	return loadView(ctx, st, mailboxID, counts)
}

// viewLoadUIDs is the UID range loadView reads at a time.
const viewLoadUIDs = 1 << 16

// loadView reads a mailbox's messages into a new view, a range of UIDs at a time, so that
// what it holds besides the view is one range's rows (a 1,000,000-message mailbox read
// whole was about 100 MiB of message rows). The ranges are read at different moments; what
// changed since counts were read comes from the store's log afterwards, which makes the
// view the mailbox's state at one MODSEQ again.
func loadView(ctx context.Context, st Store, mailboxID int64, counts mailstore.MailboxCounts) (*mailboxView, error) {
	l := newMsgList(int(counts.Messages))
	for lo := uint64(1); lo < uint64(counts.UIDNext); lo += viewLoadUIDs {
		hi := min(lo+viewLoadUIDs-1, uint64(counts.UIDNext)-1)
		list, err := st.MessagesInRange(ctx, mailboxID, uint32(lo), uint32(hi))
		if err != nil {
			return nil, err
		}
		for _, m := range list {
			l.add(m.UID, m.Flags, m.Keywords)
		}
	}
	ch, err := st.ChangesSince(ctx, mailboxID, counts.HighestModSeq)
	if err != nil {
		return nil, err
	}
	v := (&mailboxView{uidValidity: counts.UIDValidity, msgs: l}).apply(ch)
	// A mailbox deleted and made again meanwhile has another UIDVALIDITY: read it again.
	if now, err := st.MailboxStatus(ctx, mailboxID); err != nil || now.UIDValidity != counts.UIDValidity {
		if err == nil {
			err = errViewChanged
		}
		return nil, err
	}
	return v, nil
}

// errViewChanged: the mailbox was replaced while its view was read.
var errViewChanged = errors.New("imapserver: mailbox replaced while it was read")

// apply returns v with the changes of ch: expunged messages removed, changed ones updated,
// new ones added in UID order. v is not changed.
func (v *mailboxView) apply(ch mailstore.Changes) *mailboxView {
	// Both sorted, so that the merge below walks them along with the list: a map look-up per
	// message made this ten times slower at 1,000,000 messages.
	expunged := slices.Clone(ch.Expunged)
	slices.Sort(expunged)
	gone := func(uid uint32) bool {
		for len(expunged) > 0 && expunged[0] < uid {
			expunged = expunged[1:]
		}
		return len(expunged) > 0 && expunged[0] == uid
	}
	changed := slices.Clone(ch.Changed)
	slices.SortFunc(changed, func(a, b mailstore.Message) int { return int(a.UID) - int(b.UID) })
	old := v.msgs
	l := msgList{uids: make([]uint32, 0, old.len()+len(changed)), flags: make([]mailstore.Flags, 0, old.len()+len(changed)),
		kwSet: make([]uint32, 0, old.len()+len(changed)),
		kw:    &kwTable{sets: slices.Clone(old.kw.sets), index: maps.Clone(old.kw.index)}}
	// A merge of the old list and the changes, both in UID order.
	i, j := 0, 0
	for i < old.len() || j < len(changed) {
		switch {
		case j == len(changed) || i < old.len() && old.uids[i] < changed[j].UID:
			if uid := old.uids[i]; !gone(uid) {
				l.uids = append(l.uids, uid)
				l.flags = append(l.flags, old.flags[i])
				l.kwSet = append(l.kwSet, old.kwSet[i])
			}
			i++
		default:
			m := changed[j]
			if i < old.len() && old.uids[i] == m.UID {
				i++
			}
			if !gone(m.UID) {
				l.uids = append(l.uids, m.UID)
				l.flags = append(l.flags, m.Flags)
				l.kwSet = append(l.kwSet, l.kw.intern(m.Keywords))
			}
			j++
		}
	}
	return newMailboxView(v.uidValidity, ch.HighestModSeq, l)
}

// newMailboxView takes l (which becomes shared) and works out what SELECT reports.
func newMailboxView(uidValidity uint32, modseq uint64, l msgList) *mailboxView {
	v := &mailboxView{uidValidity: uidValidity, modseq: modseq, msgs: l.share()}
	for i, f := range l.flags {
		if f&mailstore.FlagSeen == 0 {
			v.firstUnseen = uint32(i + 1)
			break
		}
	}
	if len(l.kw.sets) > 1 {
		used := make([]bool, len(l.kw.sets))
		for _, k := range l.kwSet {
			used[k] = true
		}
		kw := newKeywords()
		for k, set := range l.kw.sets {
			if used[k] {
				kw.add(set)
			}
		}
		v.keywords = kw.list
	}
	return v
}

// evict drops the least recently used views other than keep until the cache holds at most
// maxHeld messages and viewCacheMailboxes mailboxes. c.mu is held.
func (c *viewCache) evict(keep *viewSlot) {
	for c.held > c.maxHeld || len(c.slots) > viewCacheMailboxes {
		var victim int64
		var vs *viewSlot
		for id, sl := range c.slots {
			if sl != keep && (vs == nil || sl.used < vs.used) {
				victim, vs = id, sl
			}
		}
		if vs == nil {
			return
		}
		c.held -= vs.size
		delete(c.slots, victim)
	}
}

// selected returns a session's view of mailbox mb, sharing the cached list, and the
// sequence number of its first unseen message.
func (c *viewCache) selected(ctx context.Context, st Store, mb mailstore.Mailbox) (*selected, uint32, error) {
	mv, counts, err := c.view(ctx, st, mb.ID)
	if err != nil {
		return nil, 0, err
	}
	v := &selected{mb: mb, msgs: mv.msgs, modseq: mv.modseq, gone: map[uint32]bool{}, kw: newKeywords()}
	v.mb.UIDValidity, v.mb.HighestModSeq, v.mb.UIDNext = mv.uidValidity, mv.modseq, counts.UIDNext
	if n := v.msgs.len(); n > 0 && v.msgs.uid(n-1) >= v.mb.UIDNext {
		v.mb.UIDNext = v.msgs.uid(n-1) + 1 // the view is newer than the counts
	}
	v.kw.add(mv.keywords)
	return v, mv.firstUnseen, nil
}
