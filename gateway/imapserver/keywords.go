package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// MaxMailboxKeywords is how many distinct keywords a mailbox holds that clients may set with
// STORE and APPEND: a client can rely on creating keywords until a mailbox has this many.
// Beyond it STORE and APPEND are refused with NO [LIMIT] and PERMANENTFLAGS no longer offers
// \*. COPY and MOVE carry a message's keywords along whatever the destination holds.
const MaxMailboxKeywords = 256

// Keyword announcement (RFC 9051 §7.3.5, §7.1 PERMANENTFLAGS): a client may only see a
// keyword in a FETCH response after an untagged FLAGS response listed it. SELECT lists the
// keywords of every message; from then on, when a message carrying a keyword this session
// has not listed yet arrives (delivered, appended or copied in), and before any FETCH
// carries one (set by this session or by another), the session sends FLAGS and
// PERMANENTFLAGS again with the keyword added. Keywords are compared
// case-insensitively and always go out in the spelling first announced, so a client never
// sees two spellings of one keyword. Announced keywords stay listed until the next SELECT,
// even when no message carries them any more.
type keywords struct {
	list  []string          // announced keywords, in order of announcement
	index map[string]string // lower case → announced spelling
}

func newKeywords() keywords { return keywords{index: map[string]string{}} }

// add records kw; it reports whether any of them was new.
func (k *keywords) add(kw []string) bool {
	added := false
	for _, w := range kw {
		l := strings.ToLower(w)
		if _, ok := k.index[l]; ok || w == "" {
			continue
		}
		k.index[l] = w
		k.list = append(k.list, w)
		added = true
	}
	return added
}

func (k *keywords) has(w string) bool {
	_, ok := k.index[strings.ToLower(w)]
	return ok
}

// appendFlags appends a message's flags for the client to out, its keywords in their announced
// spelling.
func (k *keywords) appendFlags(out []imap.Flag, f mailstore.Flags, kw []string) []imap.Flag {
	for _, fl := range systemFlags {
		if f&flagBits[fl] != 0 {
			out = append(out, fl)
		}
	}
	for _, w := range kw {
		if a, ok := k.index[strings.ToLower(w)]; ok {
			w = a
		}
		out = append(out, imap.Flag(w))
	}
	return out
}

// mailboxFlags is the FLAGS response: the system flags and every announced keyword.
func (k *keywords) mailboxFlags() []imap.Flag {
	out := make([]imap.Flag, 0, len(systemFlags)+len(k.list))
	out = append(out, systemFlags...)
	for _, w := range k.list {
		out = append(out, imap.Flag(w))
	}
	return out
}

// permanentFlags is the PERMANENTFLAGS response code: nothing in a read-only mailbox;
// otherwise every flag of FLAGS, and \* while keywords may still be created.
func (k *keywords) permanentFlags(readOnly bool) []imap.Flag {
	if readOnly {
		return []imap.Flag{}
	}
	out := k.mailboxFlags()
	if len(k.list) < MaxMailboxKeywords {
		out = append(out, imap.FlagWildcard)
	}
	return out
}

// writeFlagsResponse writes the untagged FLAGS and PERMANENTFLAGS that announce new keywords.
func (k *keywords) writeFlagsResponse(e *imapwire.Encoder, readOnly bool) {
	e.Raw("* FLAGS ")
	writeFlags(e, k.mailboxFlags())
	e.Raw("\r\n* OK [PERMANENTFLAGS ")
	writeFlags(e, k.permanentFlags(readOnly))
	e.Raw("] Flags permitted\r\n")
}

// announce makes sure the client has been told of the keywords in kw before a FETCH
// response carries them: it writes FLAGS and PERMANENTFLAGS between two responses.
func (s *session) announce(kw []string) error {
	v := s.sel
	if len(kw) == 0 || !v.kw.add(kw) {
		return nil
	}
	v.kw.writeFlagsResponse(s.enc, v.readOnly)
	return s.enc.Err()
}

// keywordLimitErr is the refusal of a STORE or APPEND that would take a mailbox past
// MaxMailboxKeywords.
var keywordLimitErr = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeLimit,
	Text: "Too many keywords in this mailbox",
}

// checkKeywordRoom refuses new keywords that would take a mailbox holding the keywords
// held past MaxMailboxKeywords.
func checkKeywordRoom(held func() map[string]bool, kw []string) error {
	if len(kw) == 0 {
		return nil
	}
	h := held()
	n := len(h)
	for _, w := range mailstore.NormalizeKeywords(kw) {
		if !h[strings.ToLower(w)] {
			n++
		}
	}
	if n > MaxMailboxKeywords {
		return keywordLimitErr
	}
	return nil
}

// heldKeywords returns the keywords the messages of the view carry, in lower case.
func (v *selected) heldKeywords() map[string]bool {
	h := map[string]bool{}
	for i := range v.msgs.len() {
		if v.gone[v.msgs.uid(i)] {
			continue
		}
		_, kw := v.msgs.state(i)
		for _, w := range kw {
			h[strings.ToLower(w)] = true
		}
	}
	return h
}

// checkStoreKeywords refuses a STORE that would take the selected mailbox past
// MaxMailboxKeywords. Every keyword the view holds has been announced, so a STORE of
// announced keywords into a mailbox that has not announced more than the limit needs no
// count.
func (v *selected) checkStoreKeywords(kw []string) error {
	if len(v.kw.list) <= MaxMailboxKeywords {
		known := true
		for _, w := range kw {
			known = known && v.kw.has(w)
		}
		if known {
			return nil
		}
	}
	return checkKeywordRoom(v.heldKeywords, kw)
}

// checkAppendKeywords refuses an APPEND whose keywords would take the mailbox past
// MaxMailboxKeywords. Only an APPEND that carries keywords reads the mailbox's.
func (s *session) checkAppendKeywords(mailboxID int64, kw []string) error {
	if len(kw) == 0 {
		return nil
	}
	if v := s.sel; v != nil && v.mb.ID == mailboxID {
		return v.checkStoreKeywords(kw)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	snap, err := s.srv.opts.Store.Snapshot(ctx, mailboxID)
	if err != nil {
		return s.fail(err)
	}
	return checkKeywordRoom(func() map[string]bool {
		h := map[string]bool{}
		for _, m := range snap.Messages {
			for _, w := range m.Keywords {
				h[strings.ToLower(w)] = true
			}
		}
		return h
	}, kw)
}
