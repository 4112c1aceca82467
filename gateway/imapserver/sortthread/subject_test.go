package sortthread

import "testing"

// The rows come from RFC 5256 section 2.1 (one per step), from imaptest's sort-subject
// messages and from Dovecot's behaviour where the RFC leaves room.
func TestBaseSubject(t *testing.T) {
	tests := []struct {
		raw   string
		base  string
		reply bool
	}{
		{"", "", false},
		{"hello", "hello", false},
		// (1) encoded words, tabs, line breaks and runs of spaces.
		{"=?iso-8859-1?q?RE:_C?=", "C", true},
		{"=?us-ascii?b?UmU6IGM=?=", "c", true},
		{"=?iso-8859-1?q?_?=", "", false},
		{"Re: =?utf-8?q?b?=", "b", true},
		{"=?utf-8?q?Gr=C3=BC=C3=9Fe?= =?utf-8?q?_aus_Bern?=", "Grüße aus Bern", false},
		{"=?x-unknown?q?abc?=", "=?x-unknown?q?abc?=", false},
		{"a\tb\r\n  c", "a b c", false},
		// (2) trailers, repeated.
		{"b (fWd)  (fwd)", "b", true},
		{"b (fwd) ", "b", true},
		{"(fwd)", "", true},
		{"b(fwd)", "b", true},
		// (3) leaders: re, fw, fwd, with blobs before and inside, any case.
		{"Re: x", "x", true},
		{"RE:x", "x", true},
		{"re :x", "x", true},
		{"Fw: x", "x", true},
		{"FWD: x", "x", true},
		{"Re[2]: x", "x", true},
		{"Re [2]: x", "x", true},
		{"[list] Re: x", "x", true},
		{"[a] [b] Re: Fwd: x", "x", true},
		{"Re: Re: Re: x", "x", true},
		{"Ad: Re: Ad: Re: Ad: x", "Ad: Re: Ad: Re: Ad: x", false},
		{"Reply: x", "Reply: x", false},
		{"Fwx: y", "Fwx: y", false},
		{"Re x", "Re x", false},
		// (4) a blob goes only when something is left after it.
		{"[xyz]", "[xyz]", false},
		{"[xyz] abc", "abc", false},
		{"[a] [b]", "[b]", false},
		{"[a [b] c", "[a [b] c", false},
		{"[Список] тема", "тема", false},
		// (5) leaders and blobs until neither matches.
		{"[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true},
		{"[a] x: [b] Re: y", "x: [b] Re: y", false},
		// (6) the [fwd: ...] wrapper, then from (2) again.
		{"[fwd: x]", "x", true},
		{"Re: [FWD: c]", "c", true},
		{"re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", true},
		{"[fwd: x (fwd)]", "x", true},
		{"[fwd: x", "[fwd: x", false},
		{"[fwd:]", "", true},
		{"_", "_", false},
	}
	for _, tt := range tests {
		base, reply := BaseSubject(tt.raw)
		if base != tt.base || reply != tt.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tt.raw, base, reply, tt.base, tt.reply)
		}
	}
}

func TestBaseSubjectBounded(t *testing.T) {
	long := ""
	for range 10000 {
		long += "[x] Re: "
	}
	base, _ := BaseSubject(long + "tail")
	if len(base) > MaxSubjectBytes {
		t.Fatalf("base subject of %d bytes, bound %d", len(base), MaxSubjectBytes)
	}
	// Cutting at the bound never splits a character.
	many := ""
	for range MaxSubjectBytes {
		many += "é"
	}
	base, _ = BaseSubject("a" + many)
	if len(base) > MaxSubjectBytes || base[len(base)-2:] != "é" {
		t.Fatalf("cut inside a character: %q", base[len(base)-4:])
	}
}

func TestCasemap(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "ABC", "ABC": "ABC", "a_[z]é": "A_[Z]é", "x1y": "X1Y"} {
		if got := casemap(in, 100); got != want {
			t.Errorf("casemap(%q) = %q, want %q", in, got, want)
		}
	}
	if got := casemap("abcdef", 3); got != "ABC" {
		t.Errorf("cut: %q", got)
	}
}
