package mailstore

import (
	"fmt"
	"testing"
)

// TestFlagChangeApplyTo: the STORE rule both backends apply: a message the change alters
// takes the new MODSEQ, one it leaves as it was (keywords compared case-insensitively) keeps
// its own.
func TestFlagChangeApplyTo(t *testing.T) {
	m := Message{UID: 7, Flags: FlagSeen, Keywords: []string{"$Label1", "Work"}, ModSeq: 3}
	for _, tc := range []struct {
		name     string
		ch       FlagChange
		flags    Flags
		keywords string
		changed  bool
	}{
		{"add a flag", FlagChange{Op: FlagsAdd, Flags: FlagFlagged}, FlagSeen | FlagFlagged, "[$Label1 Work]", true},
		{"add a flag it has", FlagChange{Op: FlagsAdd, Flags: FlagSeen}, FlagSeen, "[$Label1 Work]", false},
		{"add a keyword in another case", FlagChange{Op: FlagsAdd, Keywords: []string{"work"}}, FlagSeen, "[$Label1 Work]", false},
		{"add a keyword", FlagChange{Op: FlagsAdd, Keywords: []string{"Home", ""}}, FlagSeen, "[$Label1 Work Home]", true},
		{"remove a keyword", FlagChange{Op: FlagsRemove, Keywords: []string{"$label1"}}, FlagSeen, "[Work]", true},
		{"remove what it lacks", FlagChange{Op: FlagsRemove, Flags: FlagDeleted, Keywords: []string{"Home"}}, FlagSeen, "[$Label1 Work]", false},
		{"replace with the same, reordered", FlagChange{Op: FlagsReplace, Flags: FlagSeen, Keywords: []string{"work", "$LABEL1"}}, FlagSeen, "[$Label1 Work]", false},
		{"replace", FlagChange{Op: FlagsReplace, Flags: FlagAnswered}, FlagAnswered, "[]", true},
	} {
		got, changed := tc.ch.ApplyTo(m, 9)
		wantSeq := uint64(3)
		if tc.changed {
			wantSeq = 9
		}
		if changed != tc.changed || got.Flags != tc.flags || fmt.Sprint(got.Keywords) != tc.keywords || got.ModSeq != wantSeq || got.UID != 7 {
			t.Errorf("%s: %+v changed %v, want flags %v keywords %s changed %v", tc.name, got, changed, tc.flags, tc.keywords, tc.changed)
		}
	}
}
