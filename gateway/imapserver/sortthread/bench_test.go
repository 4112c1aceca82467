package sortthread_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

// benchMailbox is n messages shaped like a busy list mailbox: threads of 1 to 30 messages,
// replies referring to a random earlier message of their thread with the full References
// chain, "Re:" and list-tag subjects, a few hundred senders, dates spread over a year with
// some Date headers missing.
func benchMailbox(n int) []sortthread.Message {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]sortthread.Message, 0, n)
	type thread struct {
		subject string
		ids     []string
		chains  [][]string // the References of each message: its ancestors' IDs
	}
	var open []*thread
	for i := 0; i < n; i++ {
		m := sortthread.Message{
			Seq:          uint32(i + 1),
			UID:          uint32(i + 100),
			InternalDate: base.Add(time.Duration(i) * 5 * time.Minute),
			Size:         int64(1000 + r.IntN(100000)),
			From:         sortthread.Address{Name: fmt.Sprintf("Sender %d", r.IntN(300)), Mailbox: fmt.Sprintf("user%d", r.IntN(300)), Host: "example.org"},
			To:           sortthread.Address{Mailbox: "list", Host: "lists.example.org"},
			MessageID:    fmt.Sprintf("<m%d.%d@example.org>", i, r.Uint32()),
		}
		if r.IntN(10) != 0 {
			m.Date = m.InternalDate.Add(-time.Duration(r.IntN(3600)) * time.Second)
		}
		if len(open) > 0 && r.IntN(3) != 0 {
			t := open[r.IntN(len(open))]
			p := r.IntN(len(t.ids))
			m.Subject = "Re: [list] " + t.subject
			chain := append(t.chains[p][:len(t.chains[p]):len(t.chains[p])], t.ids[p])
			refs := ""
			for _, id := range chain {
				refs += id + " "
			}
			m.References = refs
			m.InReplyTo = t.ids[p]
			t.ids = append(t.ids, m.MessageID)
			t.chains = append(t.chains, chain)
			if len(t.ids) > 30 {
				open[0], open = nil, open[1:]
			}
		} else {
			t := &thread{subject: fmt.Sprintf("topic %d about %d", i, r.IntN(1000)), ids: []string{m.MessageID}, chains: [][]string{nil}}
			m.Subject = "[list] " + t.subject
			open = append(open, t)
			if len(open) > 200 {
				open = open[1:]
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

const benchSize = 100000

func BenchmarkSort(b *testing.B) {
	msgs := benchMailbox(benchSize)
	for _, crit := range [][]string{
		{"ARRIVAL"}, {"REVERSE", "DATE"}, {"SUBJECT", "DATE"}, {"FROM", "REVERSE", "SIZE"}, {"DISPLAYFROM"},
	} {
		c, err := sortthread.ParseCriteria(crit)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(crit), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sortthread.Sort(msgs, c, sortthread.NumUID)
			}
		})
	}
}

func BenchmarkThread(b *testing.B) {
	msgs := benchMailbox(benchSize)
	for _, alg := range []sortthread.Algorithm{sortthread.References, sortthread.OrderedSubject} {
		b.Run(alg.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				threads := sortthread.Threads(msgs, alg)
				sortthread.AppendThreads(nil, threads, sortthread.NumUID)
			}
		})
	}
}

// BenchmarkThreadReferencesHostile is the worst case of the loop check: a chain of
// MaxThreadDepth messages, then pairs in which a message that already has a reply claims
// the end of the chain as its parent, so that every such link walks the whole bound.
func BenchmarkThreadReferencesHostile(b *testing.B) {
	msgs := make([]sortthread.Message, 0, benchSize)
	add := func(id, refs string) {
		n := uint32(len(msgs) + 1)
		msgs = append(msgs, sortthread.Message{Seq: n, UID: n, MessageID: id, References: refs, Subject: "x"})
	}
	for i := 0; i < sortthread.MaxThreadDepth+10; i++ {
		add(fmt.Sprintf("<c%d@x>", i), fmt.Sprintf("<c%d@x>", i-1))
	}
	tail := fmt.Sprintf("<c%d@x>", sortthread.MaxThreadDepth+9)
	for k := 0; len(msgs) < benchSize; k++ {
		add(fmt.Sprintf("<a%d@x>", k), fmt.Sprintf("<x%d@x>", k))
		add(fmt.Sprintf("<x%d@x>", k), tail)
	}
	b.ReportAllocs()
	for b.Loop() {
		sortthread.ThreadReferences(msgs)
	}
}

// BenchmarkThreadReferencesManyIDs is a mailbox in which every message names
// MaxReferences message IDs of its own: the dummies kept are bounded per message.
func BenchmarkThreadReferencesManyIDs(b *testing.B) {
	msgs := make([]sortthread.Message, benchSize)
	for i := range msgs {
		var r strings.Builder
		for j := range sortthread.MaxReferences {
			fmt.Fprintf(&r, "<r%d.%d@attacker.example> ", i, j)
		}
		msgs[i] = sortthread.Message{Seq: uint32(i + 1), UID: uint32(i + 1), MessageID: fmt.Sprintf("<m%d@x>", i), References: r.String()}
	}
	b.ReportAllocs()
	for b.Loop() {
		sortthread.ThreadReferences(msgs)
	}
}

// BenchmarkParseHeader is the per-message cost of filling a Message from a typical list
// message's header section.
func BenchmarkParseHeader(b *testing.B) {
	raw := []byte("Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby mail.example.net with ESMTPS id 4abc; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		"From: \"Doe, Jane\" <jane.doe@example.org>\r\nTo: dev-list <dev@lists.example.org>\r\nCc: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\r\n" +
		"Subject: Re: [dev] =?utf-8?q?Gr=C3=BC=C3=9Fe?= from the build farm\r\nDate: Mon, 1 Jan 2024 11:00:00 +0100 (CET)\r\n" +
		"Message-ID: <20240101100000.4abc@example.org>\r\nIn-Reply-To: <20231231.9f@example.com>\r\n" +
		"References: <20231230.1@example.com>\r\n <20231231.9f@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var m sortthread.Message
		m.ParseHeader(raw)
	}
}
