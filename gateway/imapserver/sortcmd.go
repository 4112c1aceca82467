package imapserver

import (
	"bufio"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
	"github.com/sealgate/sealgate/gateway/mailindex"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// SORT, THREAD (RFC 5256) and ESORT (RFC 5267) on the sortthread package: the search keys
// are evaluated as SEARCH evaluates them, then the matching messages' headers are read once
// and handed to sortthread.

// sortCaps are the capabilities SORT and THREAD add.
const sortCaps = "SORT ESORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT"

// readAtomList reads "(item ...)" of atoms (RETURN options, sort criteria).
func (s *session) readAtomList() ([]string, error) {
	var items []string
	err := s.dec.ReadList(func() error {
		a, err := s.dec.ReadAtom()
		items = append(items, a)
		return err
	})
	return items, err
}

// readSortMessages reads SORT's and THREAD's charset and search keys up to the line end,
// and returns the messages that match and, when the keys use MODSEQ, the highest MODSEQ
// among them (RFC 7162 §3.1.5), else 0.
func (s *session) readSortMessages(cmd *command) ([]sortthread.Message, uint64, error) {
	if err := s.args(); err != nil {
		return nil, 0, err
	}
	charset, err := s.dec.ReadAString(imapwire.MaxSmallLiteral)
	if err != nil {
		return nil, 0, err
	}
	if err := s.args(); err != nil {
		return nil, 0, err
	}
	sa, err := s.dec.ReadSearch(cmd.kind == numUID)
	if err != nil {
		return nil, 0, err
	}
	if sa.Extended || sa.Charset != "" {
		return nil, 0, &imapwire.CommandError{Msg: "unexpected RETURN or CHARSET in the search keys"}
	}
	s.sel.useSaved(&sa.Criteria)
	if !strings.EqualFold(charset, "UTF-8") && !strings.EqualFold(charset, "US-ASCII") {
		return nil, 0, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeBadCharset, Text: "Only UTF-8 is supported"}
	}
	return s.sortMessages(&sa.Criteria)
}

// syntaxOf turns sortthread's parse errors into BAD.
func syntaxOf(err error) error {
	if errors.Is(err, sortthread.ErrSyntax) {
		return &imapwire.CommandError{Msg: err.Error()}
	}
	return err
}

func (s *session) cmdSort(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	var ret *sortthread.Return
	if c, err := s.dec.Peek(); err != nil {
		return err
	} else if c == 'R' || c == 'r' {
		if kw, err := s.dec.ReadAtom(); err != nil {
			return err
		} else if !strings.EqualFold(kw, "RETURN") {
			return &imapwire.CommandError{Msg: "expected RETURN or sort criteria"}
		}
		if err := s.args(); err != nil {
			return err
		}
		items, err := s.readAtomList()
		if err != nil {
			return err
		}
		r, err := sortthread.ParseReturn(items)
		if err != nil {
			return syntaxOf(err)
		}
		if r.Save || r.Partial != nil {
			return &imapwire.CommandError{Msg: "RETURN (SAVE) and PARTIAL are not offered"}
		}
		ret = &r
		if err := s.args(); err != nil {
			return err
		}
	}
	items, err := s.readAtomList()
	if err != nil {
		return err
	}
	crit, err := sortthread.ParseCriteria(items)
	if err != nil {
		return syntaxOf(err)
	}
	msgs, modseq, err := s.readSortMessages(cmd)
	if err != nil {
		return err
	}
	nums := sortthread.Sort(msgs, crit, sortthread.NumKind(cmd.kind))
	var b []byte
	if ret == nil {
		b = append(b, "* SORT"...)
		for _, n := range nums {
			b = append(b, ' ')
			b = appendUint(b, uint64(n))
		}
		if modseq > 0 && len(nums) > 0 {
			b = appendUint(append(b, " (MODSEQ "...), modseq)
			b = append(b, ')')
		}
	} else {
		b = appendString(append(b, "* ESEARCH (TAG "...), cmd.tag)
		b = append(b, ')')
		if cmd.kind == numUID {
			b = append(b, " UID"...)
		}
		b = ret.AppendData(b, nums)
		if modseq > 0 && len(nums) > 0 {
			b = appendUint(append(b, " MODSEQ "...), modseq)
		}
	}
	s.enc.Raw(string(b)).CRLF()
	return s.enc.Err()
}

func (s *session) cmdThread(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	name, err := s.dec.ReadAtom()
	if err != nil {
		return err
	}
	alg, err := sortthread.ParseAlgorithm(name)
	if err != nil {
		return syntaxOf(err)
	}
	msgs, _, err := s.readSortMessages(cmd)
	if err != nil {
		return err
	}
	b := sortthread.AppendThreads([]byte("* THREAD "), sortthread.Threads(msgs, alg), sortthread.NumKind(cmd.kind))
	s.enc.Raw(string(b)).CRLF()
	return s.enc.Err()
}

// sortMessages returns the messages of the selected mailbox that match criteria, in
// mailbox order, with what SORT and THREAD compare.
func (s *session) sortMessages(criteria *imap.SearchCriteria) ([]sortthread.Message, uint64, error) {
	data, err := s.Search(numSeq, criteria, &imap.SearchOptions{})
	if err != nil {
		return nil, 0, err
	}
	set, _ := data.All.(imap.SeqSet)
	seqs, _ := set.Nums()
	if len(seqs) == 0 {
		return nil, 0, nil
	}
	v := s.sel
	lo, hi := v.msgs.uid(int(seqs[0]-1)), v.msgs.uid(int(seqs[len(seqs)-1]-1))
	ctx, cancel := s.ctx()
	defer cancel()
	list, err := s.srv.opts.Store.MessagesInRange(ctx, v.mb.ID, lo, hi)
	if err != nil {
		return nil, 0, s.fail(err)
	}
	raws, err := s.srv.opts.Store.RawHeaders(ctx, v.mb.ID, lo, hi)
	if err != nil {
		return nil, 0, s.fail(err)
	}
	byUID := make(map[uint32]int, len(list))
	for i := range list {
		byUID[list[i].UID] = i
	}
	msgs := make([]sortthread.Message, 0, len(seqs))
	for _, seq := range seqs {
		uid := v.msgs.uid(int(seq - 1))
		i, ok := byUID[uid]
		if !ok {
			continue // expunged meanwhile
		}
		raw, ok := raws[uid]
		if !ok { // not indexed yet: read from the message
			if raw, err = s.rawHeader(&list[i]); errors.Is(err, mailstore.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, 0, s.fail(err)
			}
		}
		m := sortthread.Message{Seq: seq, UID: uid, InternalDate: list[i].InternalDate, Size: list[i].Size}
		m.ParseHeader(raw)
		msgs = append(msgs, m)
	}
	return msgs, data.ModSeq, nil
}

// rawHeader reads a message's header section from its body.
func (s *session) rawHeader(m *mailstore.Message) ([]byte, error) {
	msg := &message{s: s, m: m}
	defer msg.close()
	rc, err := msg.reader()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return mailindex.ReadRawHeader(bufio.NewReader(rc))
}
