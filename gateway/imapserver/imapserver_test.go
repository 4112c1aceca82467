package imapserver_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/sealgate/sealgate/gateway/config"
)

func TestLoginDisabledBeforeTLS(t *testing.T) {
	env := start(t)
	c, caps := dialPlain(t, env)
	if !caps.Has(imap.CapLoginDisabled) || !caps.Has(imap.CapStartTLS) || caps.Has(imap.Cap("AUTH=PLAIN")) {
		t.Fatalf("capabilities before TLS: %v", caps)
	}
	wantCode(t, c.Login("alice@localhost", alicePW).Wait(), imap.ResponseCodePrivacyRequired)

	tc, err := imapclient.DialStartTLS(env.GW.Addr("imap"), &imapclient.Options{TLSConfig: env.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Login("alice@localhost", alicePW).Wait(); err != nil {
		t.Fatalf("LOGIN after STARTTLS: %v", err)
	}
}

func TestPlaintextLoginOnLoopbackOnlyWhenAllowed(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Auth.PlaintextOnLoopback = true })
	c, caps := dialPlain(t, env)
	if caps.Has(imap.CapLoginDisabled) || !caps.Has(imap.Cap("AUTH=PLAIN")) {
		t.Fatalf("capabilities on loopback with plaintext_on_loopback: %v", caps)
	}
	if err := c.Login("alice@localhost", alicePW).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticatePlainAndFailures(t *testing.T) {
	env := start(t)
	c, err := imapclient.DialTLS(env.GW.Addr("imaps"), &imapclient.Options{TLSConfig: env.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(sasl.NewPlainClient("", "bob@example.test", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := c.Authenticate(sasl.NewPlainClient("", "bob@example.test", bobPW)); err != nil {
		t.Fatal(err)
	}
	// The server's state, not the client's: imapclient records the new state only after
	// Wait has returned.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT after AUTHENTICATE: %v", err)
	}
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{imap.CapIMAP4rev2, imap.CapIdle, imap.CapUIDPlus, imap.CapMove, imap.CapSpecialUse,
		imap.CapNamespace, imap.CapESearch, imap.CapListExtended, imap.CapListStatus, imap.CapUnselect, imap.CapEnable,
		imap.Cap("APPENDLIMIT=52428800")} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing: %v", want, caps)
		}
	}
}

const multipartMsg = `From: "Ann Sender" <ann@example.org>
To: Alice <alice@localhost>
Cc: carol@example.org
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= with parts
Date: Tue, 03 Jan 2023 10:00:00 +0000
Message-ID: <parts@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8

The first part mentions a pineapple.
--XYZ
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQF
--XYZ--
`

func TestFetchHeadersStructurePartialBinary(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", multipartMsg)
	c := aliceInbox(t, env)

	hdrSec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	subjSec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	partialSec := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: 10}}
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	bin2 := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs := fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{
		Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, Flags: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{hdrSec, subjSec, partialSec, part1}, BinarySection: []*imap.FetchItemBinarySection{bin2},
	})
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.Envelope == nil || m.Envelope.Subject != "Grüße with parts" || m.Envelope.From[0].Addr() != "ann@example.org" ||
		len(m.Envelope.Cc) != 1 || m.Envelope.MessageID != "parts@example.org" {
		t.Errorf("envelope %+v", m.Envelope)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 || mp.Children[1].(*imap.BodyStructureSinglePart).Type != "application" {
		t.Errorf("body structure %#v", m.BodyStructure)
	}
	if h := string(m.FindBodySection(hdrSec)); !strings.HasPrefix(h, "Return-Path:") && !strings.Contains(h, "Subject: =?utf-8?q?Gr") ||
		!strings.HasSuffix(h, "\r\n\r\n") || strings.Contains(h, "pineapple") {
		t.Errorf("BODY[HEADER] = %q", h)
	}
	if h := string(m.FindBodySection(subjSec)); h != "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= with parts\r\n\r\n" {
		t.Errorf("HEADER.FIELDS (Subject) = %q", h)
	}
	full := env.Mailbox("alice@localhost", "INBOX")[0].Body
	if p := m.FindBodySection(partialSec); !bytes.Equal(p, full[:10]) {
		t.Errorf("BODY[]<0.10> = %q, want %q", p, full[:10])
	}
	if p := string(m.FindBodySection(part1)); strings.TrimSpace(p) != "The first part mentions a pineapple." {
		t.Errorf("BODY[1] = %q", p)
	}
	if b := m.FindBinarySection(bin2); !bytes.Equal(b, []byte{0, 1, 2, 3, 4, 5}) {
		t.Errorf("BINARY[2] = %v", b)
	}
	if m.RFC822Size != int64(len(full)) || slices.Contains(m.Flags, imap.FlagSeen) {
		t.Errorf("size %d (want %d), flags %v after PEEK", m.RFC822Size, len(full), m.Flags)
	}

	// A later partial and BODY[] without PEEK: exact bytes, and \Seen is set.
	later := &imap.FetchItemBodySection{Partial: &imap.SectionPartial{Offset: 20, Size: 1 << 20}}
	msgs = fetchAll(t, c, imap.UIDSetNum(1), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{later}})
	if got := msgs[0].FindBodySection(later); !bytes.Equal(got, full[20:]) {
		t.Errorf("BODY[]<20.*> = %q", got)
	}
	if !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("BODY[] did not report \\Seen: %v", msgs[0].Flags)
	}
}

func TestSearchUsesIndex(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", multipartMsg)
	deliver(t, env, "alice@localhost", simpleMsg("lunch plans", "Shall we meet at noon? The needle is here."))
	deliver(t, env, "alice@localhost", strings.Replace(simpleMsg("report", "Quarterly numbers attached."+strings.Repeat(" filler", 500)),
		"Date: Mon, 02 Jan 2023", "Date: Fri, 10 Mar 2023", 1))
	c := aliceInbox(t, env)
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, "$Important"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	search := func(crit *imap.SearchCriteria) []uint32 { t.Helper(); return searchSeqs(t, c, crit) }
	cases := []struct {
		name string
		crit *imap.SearchCriteria
		want []uint32
	}{
		{"BODY substring, any case", &imap.SearchCriteria{Body: []string{"NEEDLE"}}, []uint32{2}},
		{"BODY in a MIME part", &imap.SearchCriteria{Body: []string{"pineapple"}}, []uint32{1}},
		{"BODY does not search headers", &imap.SearchCriteria{Body: []string{"lunch"}}, nil},
		{"TEXT searches headers", &imap.SearchCriteria{Text: []string{"lunch"}}, []uint32{2}},
		{"short needle", &imap.SearchCriteria{Body: []string{"ne"}}, []uint32{1, 2}},
		{"SUBJECT decoded", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "grüße"}}}, []uint32{1}},
		{"FROM", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "ann@"}}}, []uint32{1}},
		{"TO", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "To", Value: "alice"}}}, []uint32{1, 2, 3}},
		{"HEADER present", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Cc", Value: ""}}}, []uint32{1}},
		{"SENTSINCE", &imap.SearchCriteria{SentSince: time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)}, []uint32{3}},
		{"SENTBEFORE", &imap.SearchCriteria{SentBefore: time.Date(2023, 1, 3, 0, 0, 0, 0, time.UTC)}, []uint32{2}},
		{"SINCE internal date", &imap.SearchCriteria{Since: time.Now().UTC().AddDate(0, 0, -1)}, []uint32{1, 2, 3}},
		{"BEFORE internal date", &imap.SearchCriteria{Before: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		{"SEEN", &imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []uint32{2}},
		{"UNSEEN", &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{1, 3}},
		{"KEYWORD", &imap.SearchCriteria{Flag: []imap.Flag{"$important"}}, []uint32{2}},
		{"LARGER", &imap.SearchCriteria{Larger: 3000}, []uint32{3}},
		{"SMALLER", &imap.SearchCriteria{Smaller: 3000}, []uint32{1, 2}},
		{"NOT", &imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"needle"}}}}, []uint32{1, 3}},
		{"OR", &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Body: []string{"needle"}}, {Body: []string{"quarterly"}}}}}, []uint32{2, 3}},
	}
	for _, tc := range cases {
		if got := search(tc.crit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// ESEARCH return options and UID SEARCH.
	d, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"e"}}, &imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if d.Min != 1 || d.Max != 3 || d.Count != 3 {
		t.Errorf("ESEARCH MIN/MAX/COUNT = %d/%d/%d", d.Min, d.Max, d.Count)
	}
	// The same answers once every message is in the index, whether the searches above read
	// it or scanned messages the indexer had not reached yet.
	if err := env.GW.Index().IndexMailbox(t.Context(), 0, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := env.GW.Store().UnindexedBodies(t.Context(), 0, 10); err != nil || len(n) != 0 {
		t.Fatalf("unindexed bodies: %v %v", n, err)
	}
	for _, tc := range cases {
		if got := search(tc.crit); !slices.Equal(got, tc.want) {
			t.Errorf("%s, indexed: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMailboxHierarchy(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("one", "first"))
	deliver(t, env, "alice@localhost", simpleMsg("two", "second"))
	c := login(t, env, "alice@localhost", alicePW)
	list := func(pattern string, o *imap.ListOptions) map[string]*imap.ListData {
		t.Helper()
		l, err := c.List("", pattern, o).Collect()
		if err != nil {
			t.Fatalf("LIST %q: %v", pattern, err)
		}
		out := map[string]*imap.ListData{}
		for _, d := range l {
			if d.Delim != '/' {
				t.Errorf("delimiter %q", d.Delim)
			}
			out[d.Mailbox] = d
		}
		return out
	}
	if err := c.Create("Projects/2024/Q1", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	all := list("*", nil)
	for _, name := range []string{"INBOX", "Sent", "Projects", "Projects/2024", "Projects/2024/Q1"} {
		if all[name] == nil {
			t.Errorf("LIST * lacks %s: %v", name, all)
		}
	}
	if !slices.Contains(all["Sent"].Attrs, imap.MailboxAttrSent) || !slices.Contains(all["Projects"].Attrs, imap.MailboxAttrHasChildren) {
		t.Errorf("attributes: Sent %v, Projects %v", all["Sent"].Attrs, all["Projects"].Attrs)
	}
	top := list("%", nil)
	if top["Projects"] == nil || top["Projects/2024"] != nil {
		t.Errorf("LIST %% = %v", top)
	}
	if sub := list("Projects/%", nil); len(sub) != 1 || sub["Projects/2024"] == nil {
		t.Errorf("LIST Projects/%% = %v", sub)
	}
	wantCode(t, c.Create("Projects", nil).Wait(), imap.ResponseCodeAlreadyExists)
	for _, bad := range []string{"a//b", "../etc", "x/./y", "tab\there"} {
		if err := c.Create(bad, nil).Wait(); err == nil {
			t.Errorf("CREATE %q accepted", bad)
		}
	}

	// RENAME moves children.
	if err := c.Rename("Projects", "Archive/Old Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	all = list("*", nil)
	if all["Projects"] != nil || all["Archive/Old Projects/2024/Q1"] == nil {
		t.Errorf("after RENAME: %v", all)
	}
	// RENAME INBOX moves its messages and leaves INBOX empty.
	if err := c.Rename("INBOX", "Saved", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if sd := mustSelect(t, c, "INBOX"); sd.NumMessages != 0 {
		t.Errorf("INBOX has %d messages after RENAME", sd.NumMessages)
	}
	if sd := mustSelect(t, c, "Saved"); sd.NumMessages != 2 {
		t.Errorf("Saved has %d messages", sd.NumMessages)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}

	// DELETE, and INBOX cannot be deleted.
	if err := c.Delete("Archive/Old Projects/2024/Q1").Wait(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Delete("Archive/Old Projects/2024/Q1").Wait(), imap.ResponseCodeNonExistent)
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX accepted")
	}

	// SUBSCRIBE, LIST-EXTENDED (SUBSCRIBED) and RETURN (STATUS).
	if err := c.Unsubscribe("Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	subs := list("*", &imap.ListOptions{SelectSubscribed: true})
	if subs["Junk"] != nil || subs["Sent"] == nil {
		t.Errorf("LIST (SUBSCRIBED): %v", subs)
	}
	if err := c.Subscribe("Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	if subs := list("Junk", &imap.ListOptions{SelectSubscribed: true}); subs["Junk"] == nil {
		t.Errorf("Junk not subscribed again")
	}
	st := list("Saved", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}})
	if d := st["Saved"]; d == nil || d.Status == nil || *d.Status.NumMessages != 2 || *d.Status.NumUnseen != 2 {
		t.Errorf("LIST RETURN (STATUS): %+v", st["Saved"])
	}
	su := list("*", &imap.ListOptions{SelectSpecialUse: true})
	if len(su) != 5 || su["Trash"] == nil {
		t.Errorf("LIST (SPECIAL-USE): %v", su)
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Errorf("NAMESPACE %+v %v", ns, err)
	}
	status, err := c.Status("Saved", &imap.StatusOptions{NumMessages: true, UIDNext: true, Size: true, AppendLimit: true}).Wait()
	if err != nil || *status.NumMessages != 2 || status.UIDNext != 3 || *status.Size == 0 || *status.AppendLimit != 50<<20 {
		t.Errorf("STATUS %+v %v", status, err)
	}
}

func TestIdleSeesSMTPDelivery(t *testing.T) {
	env := start(t)
	exists := make(chan uint32, 10)
	c := login(t, env, "alice@localhost", alicePW, func(o *imapclient.Options) {
		o.UnilateralDataHandler = &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		}}
	})
	mustSelect(t, c, "INBOX")
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, env, "alice@localhost", simpleMsg("while idling", "ping"))
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no EXISTS while idling after SMTP delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentSessionsKeepSequenceNumbers(t *testing.T) {
	env := start(t)
	for _, s := range []string{"a", "b", "c"} {
		deliver(t, env, "alice@localhost", simpleMsg("msg "+s, s))
	}
	a := aliceInbox(t, env)

	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("b1", "LOGIN alice@localhost "+alicePW)
	r.cmd("b2", "SELECT INBOX")

	// A flags message 3; B hears of it at its next command.
	if err := a.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if out := strings.Join(r.cmd("b3", "NOOP"), "\n"); !strings.Contains(out, `* 3 FETCH (UID 3 FLAGS (\Flagged))`) {
		t.Errorf("B after A's STORE:\n%s", out)
	}

	// A expunges message 2. During FETCH, B must not be told, and its numbers stay put.
	if err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(r.cmd("b4", "FETCH 3 (UID)"), "\n")
	if strings.Contains(out, "EXPUNGE") || !strings.Contains(out, "* 3 FETCH (UID 3)") {
		t.Errorf("B's FETCH after A's EXPUNGE:\n%s", out)
	}
	out = strings.Join(r.cmd("b5", "NOOP"), "\n")
	if !strings.Contains(out, "* 2 EXPUNGE") {
		t.Errorf("B's NOOP after A's EXPUNGE:\n%s", out)
	}
	out = strings.Join(r.cmd("b6", "FETCH 2 (UID)"), "\n")
	if !strings.Contains(out, "* 2 FETCH (UID 3)") {
		t.Errorf("B's numbering after EXPUNGE:\n%s", out)
	}
	// A new delivery reaches both.
	deliver(t, env, "alice@localhost", simpleMsg("msg d", "d"))
	if out := strings.Join(r.cmd("b7", "NOOP"), "\n"); !strings.Contains(out, "* 3 EXISTS") {
		t.Errorf("B after delivery:\n%s", out)
	}
}

func TestCopyMoveAppendExpunge(t *testing.T) {
	env := start(t)
	c := login(t, env, "alice@localhost", alicePW)
	ad := appendMsg(t, c, "INBOX", simpleMsg("appended", "via APPEND"), &imap.AppendOptions{
		Flags: []imap.Flag{imap.FlagSeen, "$Label1"}, Time: time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC),
	})
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Fatalf("APPENDUID %+v", ad)
	}
	appendMsg(t, c, "INBOX", simpleMsg("second", "two"), nil)
	appendMsg(t, c, "INBOX", simpleMsg("third", "three"), nil)
	mustSelect(t, c, "INBOX")
	m := fetchAll(t, c, imap.UIDSetNum(1), &imap.FetchOptions{Flags: true, InternalDate: true})[0]
	if !slices.Contains(m.Flags, imap.FlagSeen) || !slices.Contains(m.Flags, "$Label1") || !m.InternalDate.Equal(time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("appended flags %v date %v", m.Flags, m.InternalDate)
	}
	wantCode(t, func() error {
		cmd := c.Append("NoSuchBox", 3, nil)
		cmd.Write([]byte("x\r\n"))
		cmd.Close()
		_, err := cmd.Wait()
		return err
	}(), imap.ResponseCodeTryCreate)

	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cd.SourceUIDs.String() != "1:2" || cd.DestUIDs.String() != "1:2" {
		t.Errorf("COPYUID %v -> %v", cd.SourceUIDs, cd.DestUIDs)
	}
	md, err := c.Move(imap.UIDSetNum(3), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.DestUIDs.String() != "1" {
		t.Errorf("MOVE COPYUID %+v", md)
	}
	if n := c.Mailbox().NumMessages; n != 2 {
		t.Errorf("INBOX has %d after MOVE", n)
	}
	wantCode(t, func() error { _, err := c.Copy(imap.SeqSetNum(1), "Nope").Wait(); return err }(), imap.ResponseCodeTryCreate)

	// Keywords and UID EXPUNGE of only some \Deleted messages.
	if err := c.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	expunged, err := c.UIDExpunge(imap.UIDSetNum(2)).Collect()
	if err != nil || !slices.Equal(expunged, []uint32{2}) {
		t.Fatalf("UID EXPUNGE 2: %v %v", expunged, err)
	}
	fl := fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{Flags: true})[0].Flags
	if !slices.Contains(fl, imap.FlagDeleted) {
		t.Errorf("flags of message 1: %v", fl)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{"$label1", imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	fl = fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{Flags: true})[0].Flags
	// \Recent is the session's, not stored (the client did not ENABLE IMAP4rev2).
	fl = slices.DeleteFunc(fl, func(f imap.Flag) bool { return f == `\Recent` })
	if !slices.Equal(fl, []imap.Flag{imap.FlagSeen}) {
		t.Errorf("flags after -FLAGS: %v", fl)
	}
	if got := len(env.Mailbox("alice@localhost", "Archive")); got != 2 {
		t.Errorf("Archive holds %d", got)
	}
	if got := len(env.Mailbox("alice@localhost", "Trash")); got != 1 {
		t.Errorf("Trash holds %d", got)
	}
	// EXAMINE is read-only.
	if _, err := c.Select("Archive", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		t.Error("STORE in EXAMINE accepted")
	}
}

func TestAppendLiteralOverLimitRefusedBeforeRead(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = 4096 })
	r := rawDial(t, env.GW.Addr("imaps"), env.TLSConfig())
	r.cmd("a1", "LOGIN alice@localhost "+alicePW)
	// No continuation request: the server answers at once, without reading the literal.
	out := r.cmd("a2", "APPEND INBOX {5000}")
	if last := out[len(out)-1]; !strings.HasPrefix(last, "a2 NO [TOOBIG]") {
		t.Fatalf("APPEND over limit: %v", out)
	}
	// The connection is still in sync.
	if out := r.cmd("a3", "NOOP"); !strings.HasPrefix(out[len(out)-1], "a3 OK") {
		t.Fatalf("after refused APPEND: %v", out)
	}
}

func TestIsolationBetweenUsers(t *testing.T) {
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("private", "for alice only"))
	alice := login(t, env, "alice@localhost", alicePW)
	if err := alice.Create("Secret", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	bob := login(t, env, "bob@example.test", bobPW)
	l, err := bob.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range l {
		if d.Mailbox == "Secret" {
			t.Error("bob sees alice's mailbox")
		}
	}
	wantCode(t, func() error { _, err := bob.Select("Secret", nil).Wait(); return err }(), imap.ResponseCodeNonExistent)
	for _, name := range []string{"../alice@localhost/INBOX", "/INBOX", "INBOX/../Secret"} {
		if _, err := bob.Select(name, nil).Wait(); err == nil {
			t.Errorf("bob selected %q", name)
		}
	}
	if sd := mustSelect(t, bob, "INBOX"); sd.NumMessages != 0 {
		t.Errorf("bob's INBOX has %d messages", sd.NumMessages)
	}
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	env := start(t)
	big := simpleMsg("big", strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef\n", (2<<20)/49))
	deliver(t, env, "alice@localhost", big)
	// Remove the body file under the server: reading it fails in a way the client cannot cause.
	files, _ := filepath.Glob(filepath.Join(env.Dir, "blobs", "*", "*"))
	if len(files) != 1 {
		t.Fatalf("body files: %v", files)
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	c := aliceInbox(t, env)
	_, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	var ie *imap.Error
	if !asIMAPError(err, &ie) || ie.Code != imap.ResponseCodeServerBug || !strings.Contains(ie.Text, "ref ") ||
		strings.Contains(ie.Text, "blobs") || strings.Contains(ie.Text, env.Dir) {
		t.Fatalf("FETCH of a lost body: %v", err)
	}
	ref := ie.Text[strings.Index(ie.Text, "ref ")+4 : len(ie.Text)-1]
	if !strings.Contains(env.Log.String(), ref) {
		t.Errorf("reference %s not in the log", ref)
	}
}

func TestConnectionsPerAddress(t *testing.T) {
	env := start(t, func(c *config.Config) { c.Limits.MaxConnectionsPerIP = 2 })
	rawDial(t, env.GW.Addr("imap"), nil)
	rawDial(t, env.GW.Addr("imap"), nil)
	r := rawDial2(t, env.GW.Addr("imap"))
	if !strings.HasPrefix(r, "* BYE") {
		t.Fatalf("third connection greeted with %q", r)
	}
}

func rawDial2(t *testing.T, addr string) string {
	t.Helper()
	c, err := imapclientDialRaw(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(io.LimitReader(c, 200))
	return string(b)
}
