package imapserver

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// delim is the hierarchy delimiter.
const delim = '/'

// mailboxName checks a client's mailbox name and returns the store's form of it.
func mailboxName(name string) (string, error) {
	name = mailstore.CanonicalMailboxName(name)
	if !mailstore.ValidMailboxName(name) {
		return "", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Invalid mailbox name"}
	}
	return name, nil
}

func (s *session) mailbox(name string) (mailstore.Mailbox, error) {
	name, err := mailboxName(name)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.srv.opts.Store.MailboxByName(ctx, s.user.ID, name)
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	name = strings.TrimSuffix(name, string(delim)) // RFC 9051 §6.3.4: a trailing delimiter is not part of the name
	name, err := mailboxName(name)
	if err != nil {
		return err
	}
	specialUse := ""
	if options != nil && len(options.SpecialUse) > 0 {
		if len(options.SpecialUse) > 1 {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("USEATTR"), Text: "One special use per mailbox"}
		}
		specialUse = string(options.SpecialUse[0])
	}
	ctx, cancel := s.ctx()
	defer cancel()
	st := s.srv.opts.Store
	before, err := st.Mailboxes(ctx, s.user.ID)
	if err != nil {
		return s.fail(err)
	}
	subNames, err := st.SubscribedNames(ctx, s.user.ID)
	if err != nil {
		return s.fail(err)
	}
	if _, err = st.CreateMailboxes(ctx, s.user.ID, name, specialUse); err != nil {
		return s.fail(err)
	}
	// CREATE subscribes nothing (RFC 9051 §6.3.4), but a subscription a name kept while it
	// had no mailbox is its new mailbox's. The store creates mailboxes subscribed, as
	// an account's first ones are: the new ones (the name and parents it made) are set.
	existed := map[string]bool{}
	for _, mb := range before {
		existed[mb.Name] = true
	}
	kept := map[string]bool{}
	for _, n := range subNames {
		kept[n] = true
	}
	for n := name; n != ""; {
		if !existed[n] {
			if err := st.SetSubscribed(ctx, s.user.ID, n, kept[n]); err != nil {
				return s.fail(err)
			}
			if kept[n] {
				if err := st.SetSubscribedName(ctx, s.user.ID, n, false); err != nil {
					return s.fail(err)
				}
			}
		}
		i := strings.LastIndexByte(n, delim)
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return nil
}

func (s *session) Delete(name string) error {
	name, err := mailboxName(name)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	mb, err := s.srv.opts.Store.MailboxByName(ctx, s.user.ID, name)
	if err != nil {
		return s.fail(err)
	}
	if err := s.srv.opts.Store.DeleteMailbox(ctx, s.user.ID, name); err != nil {
		return s.fail(err)
	}
	s.changed()
	if mb.Subscribed {
		// RFC 9051 §6.3.7: the subscription stays when its mailbox goes.
		return s.fail(s.srv.opts.Store.SetSubscribedName(ctx, s.user.ID, name, true))
	}
	return nil
}

func (s *session) Rename(oldName, newName string) error {
	oldName, err := mailboxName(oldName)
	if err != nil {
		return err
	}
	if newName, err = mailboxName(newName); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.srv.opts.Store.RenameMailbox(ctx, s.user.ID, oldName, newName); err != nil {
		return s.fail(err)
	}
	s.changed()
	return nil
}

func (s *session) Subscribe(name string) error   { return s.subscribe(name, true) }
func (s *session) Unsubscribe(name string) error { return s.subscribe(name, false) }

func (s *session) subscribe(name string, on bool) error {
	name, err := mailboxName(name)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	err = s.srv.opts.Store.SetSubscribed(ctx, s.user.ID, name, on)
	if errors.Is(err, mailstore.ErrNotFound) {
		// A name without a mailbox may be subscribed too (RFC 9051 §6.3.7).
		err = s.srv.opts.Store.SetSubscribedName(ctx, s.user.ID, name, on)
	} else if err == nil && !on {
		err = s.srv.opts.Store.SetSubscribedName(ctx, s.user.ID, name, false)
	}
	return s.fail(err)
}

// listEntry is a mailbox, or a level of the hierarchy that exists only because mailboxes
// below it do (after its own DELETE).
type listEntry struct {
	mb       *mailstore.Mailbox
	name     string
	children bool
	subChild bool // a subscribed mailbox below it
	// subscribedName: a subscription to the name, which has no mailbox (listed only when
	// subscriptions are asked for).
	subscribedName bool
}

func (s *session) List(w listWriter, ref string, patterns []string, options *imap.ListOptions) error {
	ctx, cancel := s.ctx()
	defer cancel()
	mbs, subNames, err := s.mailboxesAndSubscriptions(ctx)
	if err != nil {
		return s.fail(err)
	}
	entries := map[string]*listEntry{}
	for i := range mbs {
		entries[mbs[i].Name] = &listEntry{mb: &mbs[i], name: mbs[i].Name}
	}
	type named struct {
		name       string
		subscribed bool
	}
	var all []named
	for i := range mbs {
		all = append(all, named{mbs[i].Name, mbs[i].Subscribed})
	}
	for _, n := range subNames {
		if entries[n] == nil {
			entries[n] = &listEntry{name: n, subscribedName: true}
			all = append(all, named{n, true})
		}
	}
	for _, m := range all {
		name := m.name
		// A subscription without a mailbox makes no level of the hierarchy and no
		// children; it only tells the levels that exist that a subscription is below them.
		mailbox := entries[name].mb != nil
		for j := strings.LastIndexByte(name, delim); j > 0; j = strings.LastIndexByte(name[:j], delim) {
			parent := name[:j]
			e := entries[parent]
			if e == nil {
				if !mailbox {
					continue
				}
				e = &listEntry{name: parent}
				entries[parent] = e
			}
			e.children = e.children || mailbox
			// CHILDINFO tells of a subscribed child the patterns do not return
			// themselves (RFC 5258 §3.5).
			if m.subscribed && !matchAny(name, ref, patterns) {
				e.subChild = true
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		e := entries[name]
		if !matchAny(name, ref, patterns) {
			continue
		}
		subscribed := e.mb != nil && e.mb.Subscribed || e.subscribedName
		if options.SelectSubscribed && !subscribed && !(options.SelectRecursiveMatch && e.subChild) {
			continue
		}
		if e.subscribedName && !e.children && !options.SelectSubscribed {
			continue // not a mailbox, nor a level of the hierarchy
		}
		if options.SelectSpecialUse && (e.mb == nil || e.mb.SpecialUse == "") {
			continue
		}
		// A level that is not a mailbox is listed where '%' stops at it (RFC 9051 §6.3.9).
		if e.mb == nil && !e.subscribedName && !(options.SelectRecursiveMatch && e.subChild) && !strings.ContainsRune(strings.Join(patterns, ""), '%') {
			continue
		}
		data := &imap.ListData{Delim: delim, Mailbox: name}
		if e.mb == nil {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
		}
		if e.children {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if e.mb != nil && e.mb.SpecialUse != "" {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(e.mb.SpecialUse))
		}
		if options.SelectRecursiveMatch && e.subChild && !subscribed {
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if options.ReturnStatus != nil && e.mb != nil {
			data.Status, err = s.status(e.mb, options.ReturnStatus)
			if err != nil {
				return s.fail(err)
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if matchList(name, delim, ref, p) {
			return true
		}
		// INBOX is case-insensitive, in patterns too.
		if strings.HasPrefix(name, "INBOX") && matchList(name, delim, mailstore.CanonicalMailboxName(ref),
			mailstore.CanonicalMailboxName(p)) {
			return true
		}
	}
	return false
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	mb, err := s.mailbox(name)
	if err != nil {
		return nil, s.fail(err)
	}
	data, err := s.status(&mb, options)
	return data, s.fail(err)
}

func (s *session) status(mb *mailstore.Mailbox, options *imap.StatusOptions) (*imap.StatusData, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	c, err := s.srv.opts.Store.MailboxStatus(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	data := &imap.StatusData{Mailbox: mb.Name}
	if options.NumMessages {
		data.NumMessages = &c.Messages
	}
	if options.UIDNext {
		data.UIDNext = imap.UID(c.UIDNext)
	}
	if options.UIDValidity {
		data.UIDValidity = c.UIDValidity
	}
	if options.NumUnseen {
		data.NumUnseen = &c.Unseen
	}
	if options.NumDeleted {
		data.NumDeleted = &c.Deleted
	}
	if options.Size {
		data.Size = &c.Size
	}
	if options.HighestModSeq {
		s.condStoreOn()
		data.HighestModSeq = c.HighestModSeq
	}
	if options.AppendLimit {
		n := s.AppendLimit()
		data.AppendLimit = &n
	}
	if options.NumRecent {
		// The messages no session has claimed as \Recent yet; none for IMAP4rev2.
		var n uint32
		if s.rev1() {
			mark, err := s.srv.opts.Store.RecentMark(ctx, mb.ID)
			if err != nil {
				return nil, err
			}
			if c.UIDNext > mark+1 {
				list, err := s.srv.opts.Store.MessagesInRange(ctx, mb.ID, mark+1, c.UIDNext-1)
				if err != nil {
					return nil, err
				}
				n = uint32(len(list))
			}
		}
		data.NumRecent = &n
	}
	return data, nil
}

// maxPatternLen bounds a LIST pattern: matching costs its length times a name's.
const maxPatternLen = 1024

// matchList reports whether a mailbox name matches a LIST reference and pattern (RFC 9051
// §6.3.9): "*" matches anything, "%" anything but the hierarchy delimiter. A pattern
// starting with the delimiter ignores the reference. Linear in the pattern's length times
// the name's, whatever wildcards it holds.
func matchList(name string, delimiter rune, ref, pattern string) bool {
	d := string(delimiter)
	if strings.HasPrefix(pattern, d) {
		ref, pattern = "", pattern[len(d):]
	}
	if ref != "" {
		if !strings.HasSuffix(ref, d) {
			ref += d
		}
		if !strings.HasPrefix(name, ref) {
			return false
		}
		name = name[len(ref):]
	}
	if len(pattern) > maxPatternLen {
		return false
	}
	// ok[i]: the pattern so far matches name[:i].
	ok := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
	ok[0] = true
	for j := 0; j < len(pattern); j++ {
		c := pattern[j]
		clear(next)
		switch c {
		case '*', '%':
			run := false
			for i := 0; i <= len(name); i++ {
				if ok[i] {
					run = true
				} else if run && i > 0 && c == '%' && name[i-1] == byte(delimiter) {
					run = false
				}
				next[i] = run
			}
		default:
			for i := 1; i <= len(name); i++ {
				next[i] = ok[i-1] && name[i-1] == c
			}
		}
		ok, next = next, ok
	}
	return ok[len(name)]
}

// Lsub answers LSUB (RFC 3501 §6.3.9): the subscribed names that match, whether or not a
// mailbox has them. Where "%" stops at a level above a subscription that is not subscribed
// itself, that level is returned \Noselect.
func (s *session) Lsub(w listWriter, ref string, patterns []string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	mbs, subNames, err := s.mailboxesAndSubscriptions(ctx)
	if err != nil {
		return s.fail(err)
	}
	subscribed := map[string]bool{}
	for _, mb := range mbs {
		if mb.Subscribed {
			subscribed[mb.Name] = true
		}
	}
	for _, n := range subNames {
		subscribed[n] = true
	}
	var pct []string
	for _, p := range patterns {
		if strings.ContainsRune(p, '%') {
			pct = append(pct, p)
		}
	}
	noSelect := map[string]bool{} // the names to return: true for a level not subscribed
	for name := range subscribed {
		if matchAny(name, ref, patterns) {
			noSelect[name] = false
			continue
		}
		for j := strings.LastIndexByte(name, delim); j > 0 && len(pct) > 0; j = strings.LastIndexByte(name[:j], delim) {
			if parent := name[:j]; !subscribed[parent] && matchAny(parent, ref, pct) {
				noSelect[parent] = true
			}
		}
	}
	names := make([]string, 0, len(noSelect))
	for n := range noSelect {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		data := &imap.ListData{Delim: delim, Mailbox: n}
		if noSelect[n] {
			data.Attrs = []imap.MailboxAttr{imap.MailboxAttrNoSelect}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// mailboxesAndSubscriptions returns the account's mailboxes and the subscribed names that
// have no mailbox.
func (s *session) mailboxesAndSubscriptions(ctx context.Context) ([]mailstore.Mailbox, []string, error) {
	mbs, err := s.srv.opts.Store.Mailboxes(ctx, s.user.ID)
	if err != nil {
		return nil, nil, err
	}
	subNames, err := s.srv.opts.Store.SubscribedNames(ctx, s.user.ID)
	return mbs, subNames, err
}
