package sortthread

import (
	"fmt"
	"strings"
	"testing"
)

// A mailbox whose messages each name MaxReferences IDs of their own keeps at most
// MaxDummiesPerMessage dummies per message (plus minDummies), and every message is still
// threaded.
func TestReferencesDummiesBounded(t *testing.T) {
	const n = 3000
	msgs := make([]Message, n)
	for i := range msgs {
		var r strings.Builder
		for j := range MaxReferences {
			fmt.Fprintf(&r, "<r%d.%d@attacker.example> ", i, j)
		}
		msgs[i] = Message{Seq: uint32(i + 1), MessageID: fmt.Sprintf("<m%d@x>", i), References: r.String()}
	}
	tr := linkReferences(msgs)
	if max := 1 + n + MaxDummiesPerMessage*n + minDummies; len(tr.nodes) > max {
		t.Fatalf("%d nodes, bound %d", len(tr.nodes), max)
	}
	if got := len(ThreadReferences(msgs)); got != n {
		t.Fatalf("%d threads for %d unrelated messages", got, n)
	}
}
