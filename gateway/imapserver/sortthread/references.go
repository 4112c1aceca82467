package sortthread

import (
	"slices"
)

// tree is the REFERENCES algorithm's working tree. Its nodes are messages and dummies (a
// message ID that was referred to), kept in one slice and linked by index, 0 meaning none:
// a mailbox of references costs a few allocations, not one per node, and the slice holds no
// pointers for the collector to scan. Children are a doubly linked list, so a link is cut
// in constant time however many siblings there are.
type tree struct {
	nodes []node
}

type node struct {
	msg                                 int32 // index into the messages + 1; 0 for a dummy
	parent, firstChild, lastChild, prev int32
	next                                int32
}

func (t *tree) add(msg int32) int32 {
	t.nodes = append(t.nodes, node{msg: msg})
	return int32(len(t.nodes) - 1)
}

func (t *tree) addChild(p, k int32) {
	n := &t.nodes[k]
	n.parent, n.prev, n.next = p, t.nodes[p].lastChild, 0
	if last := t.nodes[p].lastChild; last != 0 {
		t.nodes[last].next = k
	} else {
		t.nodes[p].firstChild = k
	}
	t.nodes[p].lastChild = k
}

func (t *tree) unlink(c int32) {
	n := t.nodes[c]
	if n.parent == 0 {
		return
	}
	if n.prev != 0 {
		t.nodes[n.prev].next = n.next
	} else {
		t.nodes[n.parent].firstChild = n.next
	}
	if n.next != 0 {
		t.nodes[n.next].prev = n.prev
	} else {
		t.nodes[n.parent].lastChild = n.prev
	}
	t.nodes[c].parent, t.nodes[c].prev, t.nodes[c].next = 0, 0, 0
}

// wouldLoop reports whether making c a child of p would make a loop, that is whether c is p
// or one of its ancestors. A walk longer than MaxThreadDepth counts as a loop, so the link
// is refused and the work stays bounded.
func (t *tree) wouldLoop(p, c int32) bool {
	if c == p {
		return true
	}
	if t.nodes[c].firstChild == 0 {
		// c has no descendants, so it cannot be an ancestor of p.
		return false
	}
	hops := 0
	for x := t.nodes[p].parent; x != 0; x = t.nodes[x].parent {
		if x == c {
			return true
		}
		if hops++; hops > MaxThreadDepth {
			return true
		}
	}
	return false
}

// ThreadReferences is THREAD=REFERENCES, RFC 5256 section 3 steps 1 to 6: messages linked
// by Message-ID, References and In-Reply-To, dummies pruned, top-level threads with the same
// base subject gathered, siblings ordered by sent date.
func ThreadReferences(msgs []Message) []*Thread {
	t := linkReferences(msgs)

	// (2) and (3): the roots, with dummies pruned.
	top := t.prune(msgs)

	subjects := make(subjectCache)
	// (4) Top level by sent date; a dummy sorts by its first child.
	for _, t := range top {
		if t.Message == nil {
			slices.SortFunc(t.Children, compareThreads)
		}
	}
	slices.SortFunc(top, compareThreads)
	// (5) Threads with the same base subject gathered.
	top = gatherSubjects(top, subjects)
	// (6) Every set of siblings by sent date, deepest first.
	sortSiblings(top)
	return top
}

// linkReferences is step 1: every message linked below the last message ID it refers to.
func linkReferences(msgs []Message) *tree {
	order := mailboxOrder(msgs)
	t := &tree{nodes: make([]node, 1, 2*len(msgs)+1)}
	byID := make(map[string]int32, len(msgs))
	// Referred-to IDs that no message has are bounded, so that a mailbox of messages
	// each naming MaxReferences IDs of its own cannot make the tree many times the size
	// of the mailbox; a reference beyond the bound is left out of its chain.
	dummies, maxDummies := 0, MaxDummiesPerMessage*len(msgs)+minDummies
	var refBuf []string
	for _, i := range order {
		m := &msgs[i]
		// (1) The message's own node: a dummy made for its ID earlier is taken over; a
		// duplicate ID or none at all gets a node of its own.
		c := int32(0)
		if id := m.messageID(); id != "" {
			if x, ok := byID[id]; !ok {
				c = t.add(0)
				byID[id] = c
			} else if t.nodes[x].msg == 0 {
				c = x
				dummies--
			}
		}
		if c == 0 {
			c = t.add(0)
		}
		t.nodes[c].msg = i + 1
		// (1A) Chain the references, keeping links that exist.
		refBuf = m.references(refBuf)
		prev := int32(0)
		for _, id := range refBuf {
			r, ok := byID[id]
			if !ok {
				if dummies >= maxDummies {
					continue
				}
				r = t.add(0)
				byID[id] = r
				dummies++
			}
			if prev != 0 && t.nodes[r].parent == 0 && !t.wouldLoop(prev, r) {
				t.addChild(prev, r)
			}
			prev = r
		}
		// (1B) The last reference is the parent: any other link is cut first, and then
		// the new one is made only if it makes no loop.
		t.unlink(c)
		if prev != 0 && !t.wouldLoop(prev, c) {
			t.addChild(prev, c)
		}
	}
	return t
}

// mailboxOrder is the indexes of msgs by ascending sequence number.
func mailboxOrder(msgs []Message) []int32 {
	order := indexes(len(msgs))
	if !slices.IsSortedFunc(msgs, func(a, b Message) int { return cmpInt(int64(a.Seq), int64(b.Seq)) }) {
		slices.SortStableFunc(order, func(a, b int32) int { return cmpInt(int64(msgs[a].Seq), int64(msgs[b].Seq)) })
	}
	return order
}

// prune builds the Thread forest of the working tree's roots, without dummies: a dummy
// below the top level is replaced by its children; at the top level it goes when it has no
// child, is replaced by its only child, and stays when it has more.
func (t *tree) prune(msgs []Message) []*Thread {
	var top []*Thread
	var real, pending []int32
	// expand lists the message nodes under x with dummies replaced by their children.
	expand := func(x int32) []int32 {
		real = real[:0]
		pending = append(pending[:0], x)
		for len(pending) > 0 {
			y := pending[len(pending)-1]
			pending = pending[:len(pending)-1]
			for k := t.nodes[y].firstChild; k != 0; k = t.nodes[k].next {
				if t.nodes[k].msg != 0 {
					real = append(real, k)
				} else {
					pending = append(pending, k)
				}
			}
		}
		return real
	}
	thread := func(k int32) *Thread { return &Thread{Message: &msgs[t.nodes[k].msg-1]} }
	type work struct {
		n  int32
		th *Thread
	}
	var stack []work
	build := func(n int32) *Thread {
		root := thread(n)
		stack = append(stack[:0], work{n, root})
		for len(stack) > 0 {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, k := range expand(w.n) {
				kt := thread(k)
				w.th.Children = append(w.th.Children, kt)
				stack = append(stack, work{k, kt})
			}
		}
		return root
	}
	for n := int32(1); n < int32(len(t.nodes)); n++ {
		if t.nodes[n].parent != 0 {
			continue
		}
		if t.nodes[n].msg != 0 {
			top = append(top, build(n))
			continue
		}
		kids := slices.Clone(expand(n))
		switch len(kids) {
		case 0:
		case 1:
			top = append(top, build(kids[0]))
		default:
			d := &Thread{}
			for _, k := range kids {
				d.Children = append(d.Children, build(k))
			}
			top = append(top, d)
		}
	}
	return top
}

// subjectCache computes base subjects once per message, and only for the messages whose
// subject THREAD REFERENCES looks at (top-level threads and the first children of dummies).
type subjectCache map[*Message]subjectEntry

type subjectEntry struct {
	base  string
	reply bool
}

func (s subjectCache) get(m *Message) subjectEntry {
	e, ok := s[m]
	if !ok {
		key, reply := subjectKey(m.Subject)
		e = subjectEntry{key, reply}
		s[m] = e
	}
	return e
}

// threadSubject is a top-level thread's subject: its message's base subject, or for a dummy
// its first child's.
func (s subjectCache) threadSubject(t *Thread) string {
	m := t.firstMessage()
	if m == nil {
		return ""
	}
	return s.get(m).base
}

func (s subjectCache) isReply(t *Thread) bool {
	if t.Message == nil {
		return false
	}
	return s.get(t.Message).reply
}

// gatherSubjects is step 5: top-level threads with the same (non-empty) base subject are
// merged. A merge that needs a new dummy turns the table's thread into that dummy in place,
// so it keeps its position in the list.
func gatherSubjects(top []*Thread, s subjectCache) []*Thread {
	table := make(map[string]*Thread)
	for _, t := range top {
		subj := s.threadSubject(t)
		if subj == "" {
			continue
		}
		old, ok := table[subj]
		if !ok {
			table[subj] = t
			continue
		}
		if old.Message != nil && (t.Message == nil || (s.isReply(old) && !s.isReply(t))) {
			table[subj] = t
		}
	}
	out := top[:0:0]
	for _, t := range top {
		subj := s.threadSubject(t)
		old := table[subj]
		if subj == "" || old == t {
			out = append(out, t)
			continue
		}
		switch {
		case old.Message == nil && t.Message == nil:
			old.Children = append(old.Children, t.Children...)
		case old.Message == nil:
			old.Children = append(old.Children, t)
		case s.isReply(t) && !s.isReply(old):
			old.Children = append(old.Children, t)
		default:
			moved := &Thread{Message: old.Message, Children: old.Children}
			old.Message = nil
			old.Children = []*Thread{moved, t}
		}
	}
	return out
}

// sortSiblings is step 6: every set of siblings by sent date, children before their
// parents so that a dummy's first child is known when the dummy is placed.
func sortSiblings(top []*Thread) {
	var order []*Thread
	order = append(order, top...)
	for i := 0; i < len(order); i++ {
		order = append(order, order[i].Children...)
	}
	for i := len(order) - 1; i >= 0; i-- {
		if len(order[i].Children) > 1 {
			slices.SortFunc(order[i].Children, compareThreads)
		}
	}
	slices.SortFunc(top, compareThreads)
}
