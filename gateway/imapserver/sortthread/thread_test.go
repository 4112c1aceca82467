package sortthread_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

// parseWire reads the RFC 5256 wire form back into a forest whose messages carry the numbers
// as sequence numbers, so that a rendering can be checked against a written-out tree.
func parseWire(t *testing.T, s string) []*sortthread.Thread {
	t.Helper()
	var top []*sortthread.Thread
	// stack[i] is the node that the next item inside the i-th open list attaches to.
	var stack []*sortthread.Thread
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '(':
			n := &sortthread.Thread{}
			if len(stack) == 0 {
				top = append(top, n)
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
			i++
		case c == ')':
			stack = stack[:len(stack)-1]
			i++
		case c == ' ':
			i++
		default:
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(s[i:j])
			if err != nil {
				t.Fatalf("bad wire form %q at %d", s, i)
			}
			cur := stack[len(stack)-1]
			m := &sortthread.Message{Seq: uint32(n), UID: uint32(n) * 10}
			if cur.Message == nil && len(cur.Children) == 0 {
				cur.Message = m
			} else {
				k := &sortthread.Thread{Message: m}
				cur.Children = append(cur.Children, k)
				stack[len(stack)-1] = k
			}
			i = j
		}
	}
	return top
}

// RFC 5256 section 4's examples, and the shapes imaptest's scripts expect.
func TestAppendThreadsRFCExamples(t *testing.T) {
	for _, wire := range []string{
		"(2)(3 6 (4 23)(44 7 96))",
		"((3)(5))",
		"(166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)",
		"(1)((2)(3))",
		"(1 (2 4)(3))",
		"",
	} {
		got := string(sortthread.AppendThreads(nil, parseWire(t, wire), sortthread.NumSeq))
		if got != wire {
			t.Errorf("got  %s\nwant %s", got, wire)
		}
	}
	uid := string(sortthread.AppendThreads([]byte("* THREAD 7"), parseWire(t, "(1 (2)(3))"), sortthread.NumUID))
	if uid != "* THREAD 7(10 (20)(30))" {
		t.Errorf("UID form after a prefix: %s", uid)
	}
	// A single chain deeper than any recursion budget is written iteratively.
	root := &sortthread.Thread{Message: &sortthread.Message{Seq: 1}}
	for n, cur := 2, root; n <= 200000; n++ {
		k := &sortthread.Thread{Message: &sortthread.Message{Seq: uint32(n)}}
		cur.Children = []*sortthread.Thread{k}
		cur = k
	}
	if out := sortthread.AppendThreads(nil, []*sortthread.Thread{root}, sortthread.NumSeq); !strings.HasSuffix(string(out), " 200000)") {
		t.Errorf("deep chain: ...%s", out[len(out)-20:])
	}
}

func TestParseAlgorithm(t *testing.T) {
	if a, err := sortthread.ParseAlgorithm("references"); err != nil || a != sortthread.References {
		t.Errorf("references: %v %v", a, err)
	}
	if a, err := sortthread.ParseAlgorithm("ORDEREDSUBJECT"); err != nil || a != sortthread.OrderedSubject {
		t.Errorf("orderedsubject: %v %v", a, err)
	}
	if _, err := sortthread.ParseAlgorithm("REFS"); !errors.Is(err, sortthread.ErrSyntax) {
		t.Errorf("REFS: %v", err)
	}
}

// msg is a message for threading tests: "id|references|subject|minutes", the minutes after a
// fixed time being its sent date.
func msgs(spec ...string) []sortthread.Message {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]sortthread.Message, len(spec))
	for i, s := range spec {
		f := strings.Split(s, "|")
		for len(f) < 4 {
			f = append(f, "")
		}
		min, _ := strconv.Atoi(f[3])
		m := sortthread.Message{Seq: uint32(i + 1), UID: uint32(i + 1), InternalDate: base.Add(time.Duration(min) * time.Minute), Subject: f[2]}
		if f[0] != "" {
			m.MessageID = "<" + f[0] + "@x>"
		}
		for _, r := range strings.Fields(f[1]) {
			m.References += "<" + r + "@x> "
		}
		out[i] = m
	}
	return out
}

func threadWire(ms []sortthread.Message, alg sortthread.Algorithm) string {
	return string(sortthread.AppendThreads(nil, sortthread.Threads(ms, alg), sortthread.NumSeq))
}

func TestThreadReferences(t *testing.T) {
	tests := []struct {
		name string
		msgs []sortthread.Message
		want string
	}{
		{"chain", msgs("a||s|0", "b|a|Re: s|1", "c|a b|Re: s|2"), "(1 2 3)"},
		{"siblings by date", msgs("a||s|0", "b|a|Re: s|5", "c|a|Re: s|1"), "(1 (3)(2))"},
		{"equal dates by sequence", msgs("a||s|0", "b|a||1", "c|a||1"), "(1 (2)(3))"},
		{"in-reply-to when no references", func() []sortthread.Message {
			m := msgs("a||s|0", "b|||1")
			m[1].InReplyTo = "<a@x>"
			return m
		}(), "(1 2)"},
		{"missing parent promoted", msgs("b|zz|x|0"), "(1)"},
		{"missing parent kept for two", msgs("b|zz||1", "c|zz||0"), "((2)(1))"},
		{"dummy in the middle removed", msgs("a||s|0", "c|a zz|Re: s|1"), "(1 2)"},
		{"self reference", msgs("a|a|s|0"), "(1)"},
		{"two-message loop", msgs("a|b||0", "b|a||1"), "(2 1)"},
		{"references longer loop", msgs("a|c b||0", "b|a||1", "c|b||2"), "(2 (1)(3))"},
		{"duplicate id", msgs("a||s|0", "a||t|1"), "(1)(2)"},
		{"no id", msgs("||s|0", "||t|1"), "(1)(2)"},
		// Step 5: roots with the same base subject.
		{"reply joins original", msgs("a||topic|0", "b||Re: topic|1"), "(1 2)"},
		{"reply earlier than original", msgs("b||Re: topic|0", "a||topic|1"), "(2 1)"},
		{"two originals under a dummy", msgs("a||topic|0", "b||topic|1"), "((1)(2))"},
		{"two replies under a dummy", msgs("a||Re: topic|0", "b||Fwd: topic|1"), "((1)(2))"},
		{"empty subjects are not gathered", msgs("a|||0", "b|||1"), "(1)(2)"},
		{"dummy takes a message", msgs("a|zz|topic|0", "b|zz|topic|1", "c||topic|2"), "((1)(2)(3))"},
		{"two dummies merge", msgs("a|zz|topic|0", "b|zz|topic|1", "c|yy|Re: topic|2", "d|yy|topic|3"), "((1)(2)(3)(4))"},
		{"gathered by subject case", msgs("a||Topic|0", "b||re: TOPIC|1"), "(1 2)"},
		{"threads by first date", msgs("a||x|10", "b||y|5", "c|a|Re: x|1"), "(2)(1 3)"},
	}
	for _, tt := range tests {
		if got := threadWire(tt.msgs, sortthread.References); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := threadWire(nil, sortthread.References); got != "" {
		t.Errorf("empty: %q", got)
	}
	// Out of mailbox order, the lowest sequence number still keeps a duplicate ID.
	ms := msgs("a||s|0", "a||t|1", "b|a||2")
	ms[0], ms[1] = ms[1], ms[0]
	if got := threadWire(ms, sortthread.References); got != "(1 3)(2)" {
		t.Errorf("out of order: got %s, want (1 3)(2)", got)
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	ms := msgs("||b|5", "||Re: a|3", "||a|4", "||[list] b|1", "|||0", "||c|2")
	if got, want := threadWire(ms, sortthread.OrderedSubject), "(5)(4 1)(6)(2 3)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := threadWire(nil, sortthread.OrderedSubject); got != "" {
		t.Errorf("empty: %q", got)
	}
}

// checkForest verifies what every THREAD answer must hold: each message once, dummies only
// at the top level with two or more children.
func checkForest(t *testing.T, threads []*sortthread.Thread, n int) {
	t.Helper()
	seen := make(map[uint32]bool)
	type item struct {
		th  *sortthread.Thread
		top bool
	}
	var stack []item
	for _, th := range threads {
		stack = append(stack, item{th, true})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.th.Message == nil {
			if !it.top || len(it.th.Children) < 2 {
				t.Fatalf("dummy at top=%v with %d children", it.top, len(it.th.Children))
			}
		} else {
			if seen[it.th.Message.Seq] {
				t.Fatalf("message %d twice", it.th.Message.Seq)
			}
			seen[it.th.Message.Seq] = true
		}
		for _, k := range it.th.Children {
			stack = append(stack, item{k, false})
		}
	}
	if len(seen) != n {
		t.Fatalf("%d of %d messages in the forest", len(seen), n)
	}
}

// A chain far deeper than MaxThreadDepth, with reference lists longer than MaxReferences,
// is threaded whole: links to a new message need no loop walk, and nothing recurses.
func TestThreadReferencesHostile(t *testing.T) {
	const n = 5000
	chain := make([]string, n)
	for i := range chain {
		refs := ""
		for j := max(0, i-100); j < i; j++ {
			refs += fmt.Sprintf("m%d ", j)
		}
		chain[i] = fmt.Sprintf("m%d|%s|Re: deep|%d", i, refs, i)
	}
	ms := msgs(chain...)
	threads := sortthread.ThreadReferences(ms)
	checkForest(t, threads, n)
	if out := sortthread.AppendThreads(nil, threads, sortthread.NumSeq); !strings.HasSuffix(string(out), " 4999 5000)") {
		t.Errorf("chain: ...%s", out[len(out)-20:])
	}
}
