package sortthread

import (
	"slices"
)

// container is a node of the REFERENCES algorithm's working tree: a message, or a dummy
// for a message ID that was referred to. Children are a doubly linked list so that a link
// is cut in constant time however many siblings there are.
type container struct {
	msg                   *Message
	parent                *container
	firstChild, lastChild *container
	prev, next            *container
}

func (c *container) addChild(k *container) {
	k.parent = c
	k.prev, k.next = c.lastChild, nil
	if c.lastChild != nil {
		c.lastChild.next = k
	} else {
		c.firstChild = k
	}
	c.lastChild = k
}

func (c *container) unlink() {
	p := c.parent
	if p == nil {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		p.firstChild = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		p.lastChild = c.prev
	}
	c.parent, c.prev, c.next = nil, nil, nil
}

// wouldLoop reports whether making c a child of p would make a loop, that is whether c is p
// or one of its ancestors. A walk longer than MaxThreadDepth counts as a loop, so the link
// is refused and the work stays bounded.
func wouldLoop(p, c *container) bool {
	if c == p {
		return true
	}
	if c.firstChild == nil {
		// c has no descendants, so it cannot be an ancestor of p.
		return false
	}
	hops := 0
	for x := p.parent; x != nil; x = x.parent {
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
	order := mailboxOrder(msgs)
	byID := make(map[string]*container, len(msgs))
	all := make([]*container, 0, len(msgs))
	lookup := func(id string) *container {
		c := byID[id]
		if c == nil {
			c = &container{}
			byID[id] = c
			all = append(all, c)
		}
		return c
	}
	var refBuf []string
	for _, i := range order {
		m := &msgs[i]
		// (1) The message's own container: a dummy made for its ID earlier is taken over;
		// a duplicate ID or none at all gets a container of its own.
		var c *container
		if id := m.messageID(); id != "" {
			if c = lookup(id); c.msg != nil {
				c = &container{}
				all = append(all, c)
			}
		} else {
			c = &container{}
			all = append(all, c)
		}
		c.msg = m
		// (1A) Chain the references, keeping links that exist.
		refBuf = m.references(refBuf)
		var prev *container
		for _, id := range refBuf {
			r := lookup(id)
			if prev != nil && r.parent == nil && !wouldLoop(prev, r) {
				prev.addChild(r)
			}
			prev = r
		}
		// (1B) The last reference is the parent: any other link is cut first, and then
		// the new one is made only if it makes no loop.
		c.unlink()
		if prev != nil && !wouldLoop(prev, c) {
			prev.addChild(c)
		}
	}

	// (2) and (3): the roots, with dummies pruned.
	top := pruneTree(all)

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

// mailboxOrder is the indexes of msgs by ascending sequence number.
func mailboxOrder(msgs []Message) []int32 {
	order := make([]int32, len(msgs))
	for i := range order {
		order[i] = int32(i)
	}
	if !slices.IsSortedFunc(msgs, func(a, b Message) int { return cmpInt(int64(a.Seq), int64(b.Seq)) }) {
		slices.SortStableFunc(order, func(a, b int32) int { return cmpInt(int64(msgs[a].Seq), int64(msgs[b].Seq)) })
	}
	return order
}

// pruneTree builds the Thread forest of the working tree's roots, without dummies: a dummy
// below the top level is replaced by its children; at the top level it goes when it has no
// child, is replaced by its only child, and stays when it has more.
func pruneTree(all []*container) []*Thread {
	var top []*Thread
	var real, pending []*container
	// expand lists the message containers under c with dummies replaced by their children.
	expand := func(c *container) []*container {
		real = real[:0]
		pending = append(pending[:0], c)
		for len(pending) > 0 {
			x := pending[len(pending)-1]
			pending = pending[:len(pending)-1]
			// Children pushed in reverse so that they come out in order.
			for k := x.lastChild; k != nil; k = k.prev {
				if k.msg != nil {
					continue
				}
				pending = append(pending, k)
			}
			for k := x.firstChild; k != nil; k = k.next {
				if k.msg != nil {
					real = append(real, k)
				}
			}
		}
		return real
	}
	type work struct {
		c *container
		t *Thread
	}
	var stack []work
	build := func(c *container) *Thread {
		root := &Thread{Message: c.msg}
		stack = append(stack[:0], work{c, root})
		for len(stack) > 0 {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, k := range expand(w.c) {
				kt := &Thread{Message: k.msg}
				w.t.Children = append(w.t.Children, kt)
				stack = append(stack, work{k, kt})
			}
		}
		return root
	}
	for _, c := range all {
		if c.parent != nil {
			continue
		}
		if c.msg != nil {
			top = append(top, build(c))
			continue
		}
		kids := slices.Clone(expand(c))
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
		base, reply := BaseSubject(m.Subject)
		e = subjectEntry{casemap(base, MaxSubjectBytes), reply}
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
