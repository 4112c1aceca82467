package sortthread

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Algorithm is a THREAD algorithm (RFC 5256 section 3).
type Algorithm int

const (
	OrderedSubject Algorithm = iota
	References
)

func (a Algorithm) String() string {
	if a == References {
		return "REFERENCES"
	}
	return "ORDEREDSUBJECT"
}

// ParseAlgorithm parses the algorithm argument of THREAD (case does not matter).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch {
	case strings.EqualFold(s, "ORDEREDSUBJECT"):
		return OrderedSubject, nil
	case strings.EqualFold(s, "REFERENCES"):
		return References, nil
	}
	return 0, fmt.Errorf("%w: unknown thread algorithm %q", ErrSyntax, s)
}

// Thread is one node of a thread tree. Message points into the slice given to the Thread
// functions; it is nil for a dummy, which stands for a message that is referred to but not
// among the messages threaded. A dummy occurs only at the top level and has at least two
// children.
type Thread struct {
	Message  *Message
	Children []*Thread
}

// Threads threads msgs with the algorithm. msgs should be in mailbox order (ascending Seq);
// they are threaded in that order either way, as RFC 5256 says duplicate message IDs are
// resolved in favour of the lowest sequence number.
func Threads(msgs []Message, alg Algorithm) []*Thread {
	if alg == References {
		return ThreadReferences(msgs)
	}
	return ThreadOrderedSubject(msgs)
}

// ThreadOrderedSubject is THREAD=ORDEREDSUBJECT: messages sorted by base subject then sent
// date, each run of one base subject a thread whose first message is the parent of the
// others, threads ordered by the sent date of their first message.
func ThreadOrderedSubject(msgs []Message) []*Thread {
	subj := make([]string, len(msgs))
	for i := range msgs {
		subj[i], _ = subjectKey(msgs[i].Subject)
	}
	idx := indexes(len(msgs))
	slices.SortFunc(idx, func(a, b int32) int {
		if r := strings.Compare(subj[a], subj[b]); r != 0 {
			return r
		}
		return compareSent(&msgs[a], &msgs[b])
	})
	var out []*Thread
	for i := 0; i < len(idx); {
		root := &Thread{Message: &msgs[idx[i]]}
		j := i + 1
		for ; j < len(idx) && subj[idx[j]] == subj[idx[i]]; j++ {
			root.Children = append(root.Children, &Thread{Message: &msgs[idx[j]]})
		}
		out = append(out, root)
		i = j
	}
	slices.SortFunc(out, func(a, b *Thread) int { return compareSent(a.Message, b.Message) })
	return out
}

// compareSent orders by sent date, then sequence number. Dates compare in whole seconds,
// the precision of both the Date header and INTERNALDATE, as SORT DATE does.
func compareSent(a, b *Message) int {
	if r := cmpInt(a.SentDate().Unix(), b.SentDate().Unix()); r != 0 {
		return r
	}
	return cmpInt(int64(a.Seq), int64(b.Seq))
}

// firstMessage is the message a node sorts by: its own, or for a dummy its first child's.
func (t *Thread) firstMessage() *Message {
	for t.Message == nil {
		if len(t.Children) == 0 {
			return nil
		}
		t = t.Children[0]
	}
	return t.Message
}

func compareThreads(a, b *Thread) int {
	ma, mb := a.firstMessage(), b.firstMessage()
	switch {
	case ma == nil && mb == nil:
		return 0
	case ma == nil:
		return -1
	case mb == nil:
		return 1
	}
	return compareSent(ma, mb)
}

// AppendThreads appends the RFC 5256 wire form of a thread forest, "(1 2)(3 (4 5)(6))",
// with the numbers of the given kind. It writes no "THREAD" keyword and no separator before
// the first thread.
func AppendThreads(dst []byte, threads []*Thread, kind NumKind) []byte {
	start := len(dst)
	// Each stack entry is a node to write, or a closing parenthesis. A node written with
	// open set starts a thread-list of its own.
	type entry struct {
		t     *Thread
		open  bool
		close bool
	}
	var stack []entry
	push := func(list []*Thread) {
		for i := len(list) - 1; i >= 0; i-- {
			stack = append(stack, entry{close: true}, entry{t: list[i], open: true})
		}
	}
	afterNumber := func() bool {
		return len(dst) > start && dst[len(dst)-1] >= '0' && dst[len(dst)-1] <= '9'
	}
	push(threads)
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e.close {
			dst = append(dst, ')')
			continue
		}
		if e.open {
			if afterNumber() {
				dst = append(dst, ' ')
			}
			dst = append(dst, '(')
		}
		if m := e.t.Message; m != nil {
			if afterNumber() {
				dst = append(dst, ' ')
			}
			dst = strconv.AppendUint(dst, uint64(kind.Of(m)), 10)
		}
		switch len(e.t.Children) {
		case 0:
		case 1:
			// A single child continues the same thread-list: "1 2".
			stack = append(stack, entry{t: e.t.Children[0]})
		default:
			push(e.t.Children)
		}
	}
	return dst
}
