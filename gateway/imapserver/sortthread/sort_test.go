package sortthread_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

func TestParseCriteria(t *testing.T) {
	got, err := sortthread.ParseCriteria([]string{"reverse", "DATE", "Subject", "REVERSE", "displayfrom"})
	want := []sortthread.Criterion{
		{Key: sortthread.KeyDate, Reverse: true},
		{Key: sortthread.KeySubject},
		{Key: sortthread.KeyDisplayFrom, Reverse: true},
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range [][]string{
		nil,
		{"REVERSE"},
		{"DATE", "REVERSE"},
		{"REVERSE", "REVERSE", "DATE"},
		{"MODSEQ"},
		{"(DATE)"},
		{""},
	} {
		if _, err := sortthread.ParseCriteria(bad); !errors.Is(err, sortthread.ErrSyntax) {
			t.Errorf("ParseCriteria(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSort(t *testing.T) {
	base := date("2024-01-01T10:00:00Z")
	msgs := []sortthread.Message{
		{Seq: 1, UID: 10, InternalDate: base.Add(3 * time.Hour), Size: 300, Subject: "Re: beta",
			From: sortthread.Address{Mailbox: "Zed", Host: "x"}},
		{Seq: 2, UID: 20, InternalDate: base.Add(1 * time.Hour), Date: base.Add(5 * time.Hour), Size: 100, Subject: "alpha",
			From: sortthread.Address{Name: "Bob", Mailbox: "bob", Host: "x"}},
		{Seq: 3, UID: 30, InternalDate: base.Add(2 * time.Hour), Size: 300, Subject: "BETA",
			From: sortthread.Address{Mailbox: "alice", Host: "x"}},
		// Same sent date as 2 in another zone: equal, so sequence order.
		{Seq: 4, UID: 40, InternalDate: base, Date: base.Add(5 * time.Hour).In(time.FixedZone("", 3600)), Size: 50,
			From: sortthread.Address{Name: "=?utf-8?q?Al?=", Mailbox: "zz", Host: "x"}},
	}
	tests := []struct {
		criteria []string
		kind     sortthread.NumKind
		want     []uint32
	}{
		{[]string{"ARRIVAL"}, sortthread.NumSeq, []uint32{4, 2, 3, 1}},
		{[]string{"REVERSE", "ARRIVAL"}, sortthread.NumSeq, []uint32{1, 3, 2, 4}},
		{[]string{"ARRIVAL"}, sortthread.NumUID, []uint32{40, 20, 30, 10}},
		// Message 1 and 3 have no Date: their internal dates are their sent dates.
		{[]string{"DATE"}, sortthread.NumSeq, []uint32{3, 1, 2, 4}},
		{[]string{"SIZE"}, sortthread.NumSeq, []uint32{4, 2, 1, 3}},
		// Equal keys stay in sequence order under REVERSE too.
		{[]string{"REVERSE", "SIZE"}, sortthread.NumSeq, []uint32{1, 3, 2, 4}},
		{[]string{"SUBJECT"}, sortthread.NumSeq, []uint32{4, 2, 1, 3}},
		{[]string{"SUBJECT", "REVERSE", "ARRIVAL"}, sortthread.NumSeq, []uint32{4, 2, 1, 3}},
		{[]string{"SUBJECT", "ARRIVAL"}, sortthread.NumSeq, []uint32{4, 2, 3, 1}},
		{[]string{"FROM"}, sortthread.NumSeq, []uint32{3, 2, 1, 4}},
		{[]string{"DISPLAYFROM"}, sortthread.NumSeq, []uint32{4, 3, 2, 1}},
		{[]string{"TO"}, sortthread.NumSeq, []uint32{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		crit, err := sortthread.ParseCriteria(tt.criteria)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortthread.Sort(msgs, crit, tt.kind); !slices.Equal(got, tt.want) {
			t.Errorf("SORT %v = %v, want %v", tt.criteria, got, tt.want)
		}
	}
	if got := sortthread.Sort(nil, []sortthread.Criterion{{Key: sortthread.KeyDate}}, sortthread.NumSeq); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}
