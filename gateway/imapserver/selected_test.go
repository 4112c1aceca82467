package imapserver

import (
	"fmt"
	"slices"
	"testing"
)

func viewOf(uids ...uint32) *selected {
	v := &selected{gone: map[uint32]bool{}, recent: map[uint32]bool{}, msgs: newMsgList(len(uids))}
	for _, uid := range uids {
		v.msgs.add(uid, 0, nil)
	}
	return v
}

func viewUIDs(v *selected) []uint32 {
	return slices.Clone(v.msgs.uids)
}

// TestFlushExpunges: each EXPUNGE names the sequence number the message has when the client
// reads it (RFC 9051 §7.5.1), and the view keeps the others in order.
func TestFlushExpunges(t *testing.T) {
	v := viewOf(3, 5, 8, 9, 12, 20)
	for _, uid := range []uint32{5, 9, 20, 99} { // 99: not in the view
		v.gone[uid] = true
	}
	v.recent[9] = true
	var told []uint32
	if err := v.flushExpunges(func(seq uint32) error { told = append(told, seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(told) != "[6 4 2]" || fmt.Sprint(viewUIDs(v)) != "[3 8 12]" || len(v.gone) != 0 || v.recent[9] {
		t.Fatalf("told %v, view %v, gone %v, recent %v", told, viewUIDs(v), v.gone, v.recent)
	}
}

// TestFlushExpungesStopsOnError: a message the client was not told of stays in the view
// (and gone), so its sequence number still counts for the client.
func TestFlushExpungesStopsOnError(t *testing.T) {
	v := viewOf(1, 2, 3, 4)
	v.gone[2], v.gone[4] = true, true
	n := 0
	err := v.flushExpunges(func(seq uint32) error {
		if n++; n > 1 {
			return fmt.Errorf("connection lost")
		}
		return nil
	})
	if err == nil || fmt.Sprint(viewUIDs(v)) != "[1 2 3]" || !v.gone[2] || v.gone[4] {
		t.Fatalf("err %v, view %v, gone %v", err, viewUIDs(v), v.gone)
	}
}

// BenchmarkFlushExpunges: expunging 10,000 of 100,000 messages from a session's view.
func BenchmarkFlushExpunges(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		uids := make([]uint32, 100_000)
		for i := range uids {
			uids[i] = uint32(i + 1)
		}
		v := viewOf(uids...)
		for i := uint32(1); i <= 100_000; i += 10 {
			v.gone[i] = true
		}
		b.StartTimer()
		if err := v.flushExpunges(func(uint32) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
