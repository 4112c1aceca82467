package verdict

import "testing"

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		s       Status
		name    string
		checked bool
	}{
		{None, "none", false}, {Pass, "pass", true}, {Fail, "fail", true}, {Untrusted, "untrusted", true},
		{Mismatch, "mismatch", true}, {UnknownKey, "unknown-key", false}, {Unsupported, "unsupported", false},
		{Status(99), "invalid", true},
	} {
		if c.s.String() != c.name || c.s.Checked() != c.checked {
			t.Errorf("%d: %s checked=%v", c.s, c.s, c.s.Checked())
		}
	}
	// Of several signatures the most useful one stands for the message.
	order := []Status{None, Unsupported, UnknownKey, Fail, Mismatch, Untrusted, Pass}
	for i := range order {
		for j := range order {
			if got := order[i].Better(order[j]); got != (i > j) {
				t.Errorf("%v.Better(%v) = %v", order[i], order[j], got)
			}
		}
	}
}
