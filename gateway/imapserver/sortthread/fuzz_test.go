package sortthread_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{
		"", "Re: x", "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "re: [fwd: [fwd: re: [fwd: babylon]]]",
		"=?us-ascii?b?UmU6IGM=?=", "[xyz]", "[fwd:]", "[[[[", "Re[2]: (fwd)", "=?utf-8?q?=C3?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		base, _ := sortthread.BaseSubject(raw)
		if len(base) > sortthread.MaxSubjectBytes {
			t.Fatalf("base subject of %d bytes", len(base))
		}
		if strings.HasPrefix(base, " ") || strings.HasSuffix(base, " ") || strings.Contains(base, "  ") {
			t.Fatalf("whitespace left in %q", base)
		}
		if utf8.ValidString(raw) && !strings.Contains(raw, "=?") && !utf8.ValidString(base) {
			t.Fatalf("valid UTF-8 %q gave invalid %q", raw, base)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("From: A <a@b>\r\nTo: g: x@y;\r\nCc: (c) d@e (f)\r\nSubject: Re: x\r\nDate: Fri, 22 Feb 2008 02:00:00 +0200\r\nMessage-ID: <a@b>\r\nReferences: <c@d>\r\n <e@f>\r\n\r\nbody"))
	f.Add([]byte("From: \"unterminated\r\nTo: <@route:\r\nCc: ((((\r\n"))
	f.Add([]byte("Date: (c) Fri, 1 Mar 24 3.00 EST (x\r\nFrom: a (b\\\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m sortthread.Message
		m.ParseHeader(raw)
		for _, a := range []sortthread.Address{m.From, m.To, m.Cc} {
			_ = a.Display()
		}
		m.Seq, m.UID = 1, 1
		sortthread.Sort([]sortthread.Message{m, m}, allCriteria, sortthread.NumSeq)
		checkForest(t, sortthread.ThreadReferences([]sortthread.Message{m}), 1)
	})
}

var allCriteria = func() []sortthread.Criterion {
	var c []sortthread.Criterion
	for k := sortthread.KeyArrival; k <= sortthread.KeyDisplayTo; k++ {
		c = append(c, sortthread.Criterion{Key: k, Reverse: k%2 == 0})
	}
	return c
}()

// fuzzMessages builds messages from arbitrary bytes: one per line, "id refs|in-reply-to|
// subject|minute", IDs drawn from the line's own bytes so that duplicates, loops and
// self-references are common.
func fuzzMessages(data []byte) []sortthread.Message {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []sortthread.Message
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i == 300 {
			break
		}
		f := strings.SplitN(string(line), "|", 4)
		for len(f) < 4 {
			f = append(f, "")
		}
		m := sortthread.Message{Seq: uint32(i + 1), UID: uint32(2*i + 7), InternalDate: base, Subject: f[2]}
		ids := strings.Fields(f[0])
		if len(ids) > 0 {
			m.MessageID = "<" + ids[0] + "@x>"
			for _, r := range ids[1:] {
				m.References += "<" + r + "@x> "
			}
		}
		if f[1] != "" {
			m.InReplyTo = "<" + f[1] + "@x>"
		}
		if n, err := strconv.Atoi(f[3]); err == nil && n%3 != 0 {
			m.Date = base.Add(time.Duration(n%1000) * time.Minute)
		}
		out = append(out, m)
	}
	return out
}

func FuzzThreadReferences(f *testing.F) {
	f.Add([]byte("a||s|1\nb a||Re: s|2\nc b a||s|0"))
	f.Add([]byte("a b||x|1\nb a||x|2\na||x|3\n||y|4\nc c||y|5"))
	f.Add([]byte("1 2 3 4 5||t|1\n5 4 3 2 1||Re: t|2\n3||Fwd: t|3\n2 9||[fwd: t]|4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms := fuzzMessages(data)
		for _, alg := range []sortthread.Algorithm{sortthread.References, sortthread.OrderedSubject} {
			threads := sortthread.Threads(ms, alg)
			checkForest(t, threads, len(ms))
			wire := sortthread.AppendThreads(nil, threads, sortthread.NumUID)
			if bytes.Count(wire, []byte("(")) != bytes.Count(wire, []byte(")")) {
				t.Fatalf("unbalanced %s", wire)
			}
			if n := len(strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(string(wire)))); n != len(ms) {
				t.Fatalf("%d numbers for %d messages: %s", n, len(ms), wire)
			}
		}
		if got := sortthread.Sort(ms, allCriteria, sortthread.NumSeq); len(got) != len(ms) {
			t.Fatalf("sort lost messages")
		}
	})
}
