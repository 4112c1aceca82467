package sortthread_test

import (
	"errors"
	"testing"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

func TestPartialRange(t *testing.T) {
	result := []uint32{5, 3, 4, 2, 1}
	tests := []struct {
		in, echo, selected string
	}{
		{"1:1", "1:1", "5"},
		{"2:4", "2:4", "3:4,2"},
		{"4:2", "2:4", "3:4,2"},
		{"1:6", "1:6", "5,3:4,2,1"},
		{"6:9", "6:9", ""},
		{"5:5", "5:5", "1"},
		{"-1:-1", "-1:-1", "1"},
		{"-1:-2", "-1:-2", "2,1"},
		{"-3:-1", "-1:-3", "4,2,1"},
		{"-1:-100", "-1:-100", "5,3:4,2,1"},
		{"-6:-7", "-6:-7", ""},
	}
	for _, tt := range tests {
		r, err := sortthread.ParsePartialRange(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if r.String() != tt.echo {
			t.Errorf("%s: echo %s, want %s", tt.in, r, tt.echo)
		}
		if got := string(sortthread.AppendNumSet(nil, r.Select(result))); got != tt.selected {
			t.Errorf("%s: selected %q, want %q", tt.in, got, tt.selected)
		}
	}
	for _, bad := range []string{"1", "1:*", "*:1", "0:3", "1:0", "-1:2", "1:-2", "-0:-1", "a:b", ":", "1:4294967296", "01:2", "--1:-2", ""} {
		if _, err := sortthread.ParsePartialRange(bad); !errors.Is(err, sortthread.ErrSyntax) {
			t.Errorf("ParsePartialRange(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestReturn(t *testing.T) {
	tests := []struct {
		items  []string
		result []uint32
		want   string
	}{
		{[]string{"MIN"}, []uint32{4, 1, 9}, " MIN 4"},
		{[]string{"max", "min"}, []uint32{4, 1, 9}, " MIN 4 MAX 9"},
		{[]string{"COUNT"}, nil, " COUNT 0"},
		{[]string{"MIN", "MAX", "ALL"}, nil, ""},
		{nil, []uint32{1, 2, 3, 5}, " ALL 1:3,5"},
		{[]string{"ALL"}, []uint32{3, 2, 1}, " ALL 3,2,1"},
		{[]string{"PARTIAL", "1:2"}, nil, " PARTIAL (1:2 NIL)"},
		{[]string{"COUNT", "PARTIAL", "-1:-2"}, []uint32{7, 8, 9}, " PARTIAL (-1:-2 8:9) COUNT 3"},
		{[]string{"SAVE", "MIN"}, []uint32{2}, " MIN 2"},
	}
	for _, tt := range tests {
		r, err := sortthread.ParseReturn(tt.items)
		if err != nil {
			t.Errorf("%q: %v", tt.items, err)
			continue
		}
		if got := string(r.AppendData(nil, tt.result)); got != tt.want {
			t.Errorf("%q over %v: %q, want %q", tt.items, tt.result, got, tt.want)
		}
	}
	if r, _ := sortthread.ParseReturn([]string{"SAVE"}); !r.Save {
		t.Error("SAVE not kept")
	}
	for _, bad := range [][]string{{"PARTIAL"}, {"PARTIAL", "1"}, {"PARTIAL", "1:2", "PARTIAL", "3:4"}, {"FIRST"}, {"(MIN)"}, {"ALL", "PARTIAL", "1:5"}} {
		if _, err := sortthread.ParseReturn(bad); !errors.Is(err, sortthread.ErrSyntax) {
			t.Errorf("ParseReturn(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestAppendNumSet(t *testing.T) {
	for want, nums := range map[string][]uint32{
		"":             nil,
		"7":            {7},
		"1:5":          {1, 2, 3, 4, 5},
		"5,4,3":        {5, 4, 3},
		"1:2,4:5,3":    {1, 2, 4, 5, 3},
		"4294967295,1": {4294967295, 1},
	} {
		if got := string(sortthread.AppendNumSet(nil, nums)); got != want {
			t.Errorf("%v: %q, want %q", nums, got, want)
		}
	}
}
