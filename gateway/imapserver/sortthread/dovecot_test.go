package sortthread_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

// Dovecot's SORT and THREAD are the reference where RFC 5256 leaves room: random mailboxes
// built to hit the corner cases (subject leaders and trailers, encoded words, address
// groups and comments, missing and unparsable dates, duplicate and looping message IDs) are
// appended to Dovecot's imap (run in PREAUTH mode on a pipe) and every answer it gives must
// come out of the package the same. Two known differences, both Dovecot 2.3 faults, are left
// out of the corpus: Dovecot keeps sent dates as unsigned 32-bit seconds, so a Date before
// 1970 sorts after every other date there (here before them); and after a message ID without
// its ">" it glues the next quoted or commented ID to the broken one ("<a@b <c (x) @d>" gives
// "a@bc@d"), so that reference matches nothing there (here it is c@d).

const dovecotIMAP = "/usr/lib/dovecot/imap"

func requireDovecot(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(dovecotIMAP); err != nil {
		if os.Getenv("SEALGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("%s is not installed and SEALGATE_REQUIRE_PEERS is set", dovecotIMAP)
		}
		t.Skipf("%s is not installed", dovecotIMAP)
	}
}

// dovecotSession is Dovecot's imap process on a pipe, already logged in (PREAUTH).
type dovecotSession struct {
	t   *testing.T
	in  io.Writer
	out *bufio.Reader
	n   int
}

func startDovecot(t *testing.T) *dovecotSession {
	t.Helper()
	// Dovecot's mail process must reach the directory: not t.TempDir (0700).
	dir, err := os.MkdirTemp("", "sealgate-sortthread-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o755)
	mailUser := "dovecot"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		mailUser = u.Username
	} else if err := exec.Command("chown", "-R", "dovecot:dovecot", home).Run(); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("mail_location = maildir:~/Maildir\nlog_path = %s/dovecot.log\nmail_uid = %s\nmail_gid = %s\nfirst_valid_uid = 0\nfirst_valid_gid = 0\n",
		dir, mailUser, mailUser)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dovecotIMAP, "-c", confPath)
	cmd.Env = []string{"USER=" + mailUser, "HOME=" + home, "PATH=/usr/bin:/bin"}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot.log:\n%s", log)
		}
	})
	s := &dovecotSession{t: t, in: in, out: bufio.NewReader(out)}
	if greeting := s.line(); !strings.HasPrefix(greeting, "* PREAUTH") {
		t.Fatalf("dovecot greeting %q", greeting)
	}
	return s
}

func (s *dovecotSession) line() string {
	l, err := s.out.ReadString('\n')
	if err != nil {
		s.t.Fatalf("dovecot: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// do sends one command (literals as LITERAL+) and returns the untagged line that starts
// with want, after the command completed with OK.
func (s *dovecotSession) do(cmd, want string) string {
	s.t.Helper()
	s.n++
	tag := fmt.Sprintf("q%d", s.n)
	if _, err := io.WriteString(s.in, tag+" "+cmd+"\r\n"); err != nil {
		s.t.Fatal(err)
	}
	found := ""
	for {
		l := s.line()
		if want != "" && strings.HasPrefix(l, want) {
			found = l
		}
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				s.t.Fatalf("dovecot: %s: %s", cmd, l)
			}
			return found
		}
	}
}

// randomHeader builds one message of a random mailbox.
type corpus struct {
	r    *rand.Rand
	ids  int
	base time.Time
}

func (c *corpus) pick(list ...string) string { return list[c.r.IntN(len(list))] }

func (c *corpus) encoded(s string) string {
	if c.r.IntN(2) == 0 {
		return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
	}
	q := strings.NewReplacer(" ", "_", "=", "=3D", "?", "=3F", "_", "=5F", "\t", "=09").Replace(s)
	return "=?iso-8859-1?q?" + q + "?="
}

func (c *corpus) subject() string {
	var b strings.Builder
	for range c.r.IntN(4) {
		b.WriteString(c.pick("Re: ", "RE:", "re [2]: ", "Fwd: ", "fw:", "FWD :", "[list] ", "[x y] ", "[] ", "Ad: ", " ", "\t", "[fwd: "))
	}
	b.WriteString(c.pick("alpha", "Beta", "beta", "gamma", "[tag]", "", "_", "b (a)", "re", "x]", "Alpha beta"))
	for range c.r.IntN(3) {
		b.WriteString(c.pick(" (fwd)", "(FWD)", "  ", ")", "]"))
	}
	s := b.String()
	if c.r.IntN(6) == 0 {
		s = "[fwd: " + s + "]"
	}
	if c.r.IntN(5) == 0 {
		s = c.encoded(s)
	}
	return s
}

func (c *corpus) address() string {
	local := c.pick("alice", "Bob", "carol", "dave", "Eve", "bob")
	dom := c.pick("a.org", "B.org")
	name := c.pick("Zed", "amy", "Bob Smith", "bob smith", "Al")
	switch c.r.IntN(11) {
	case 0:
		return name + " <" + local + "@" + dom + ">"
	case 1:
		return local + "@" + dom
	case 2:
		return local + "@" + dom + " (" + name + ")"
	case 3:
		return `"` + name + `" <` + local + "@" + dom + ">"
	case 4:
		return c.encoded(name) + " <" + local + "@" + dom + ">"
	case 5:
		return c.pick("grp", "Team", "all") + ": " + local + "@" + dom + ", x@y.org;"
	case 6:
		return c.pick("empty", "undisclosed-recipients") + ":;"
	case 7:
		return local
	case 8:
		return "<" + local + "@" + dom + ">"
	case 9:
		return name + " <" + local + "@" + dom + ">, other@" + dom
	}
	return ""
}

// msgID is one of a small pool of message IDs, mostly plain, sometimes written with
// comments, folding or quotes (the same ID), sometimes invalid.
func (c *corpus) msgID() string {
	n := c.r.IntN(c.ids)
	if c.r.IntN(4) != 0 {
		return fmt.Sprintf("<id%d@x.org>", n)
	}
	return fmt.Sprintf(c.pick("<id%d@x.org> (comment)", "< id%d@x.org >", "<id%d (c) @x.org>", `<"id%d"@x.org>`,
		"<id%d>", "<id%d@[192.0.2.1]>", "junk <id%d@x.org>", "<<id%d@x.org>"), n)
}

func (c *corpus) message() (raw []byte, internal time.Time) {
	var h strings.Builder
	if c.r.IntN(8) != 0 {
		fmt.Fprintf(&h, "Subject: %s\r\n", c.subject())
	}
	for _, f := range []string{"From", "To", "Cc"} {
		if a := c.address(); a != "" {
			fmt.Fprintf(&h, "%s: %s\r\n", f, a)
		}
	}
	switch c.r.IntN(8) {
	case 0:
	case 1:
		fmt.Fprintf(&h, "Date: %s\r\n", c.pick("not a date", "Fri, 1 Mar 2024 03:00:00 EST", "Fri, 1 Mar 2024 03:00:00 GMT",
			"Fri, 1 Mar 2024 03:00:00 UT", "Fri, 1 Mar 2024 03:00:00 PDT", "Fri, 1 Mar 2024 03:00:00", "1 Mar 2024",
			"Fri, 1 Mar 2024 03:00:00 +0000 (UTC)", "Fri, 1 Mar 2024 03:00:00 z", "Fri, 1 Mar 2024 03:00:00 -0000",
			"Fri, 1 Mar 2024 3:0:0 +0100", "Fri, 1 Mar 2024 03:00:60 +0000"))
	default:
		zone := time.FixedZone("", 3600*(c.r.IntN(5)-2))
		d := c.base.Add(time.Duration(c.r.IntN(6)) * time.Hour).In(zone)
		layout := c.pick("Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04 -0700",
			"Mon, 2 Jan 06 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 -0700 (CET)", "Mon,  2 Jan 2006 15:04:05 -0700")
		fmt.Fprintf(&h, "Date: %s\r\n", d.Format(layout))
	}
	if c.r.IntN(10) != 0 {
		fmt.Fprintf(&h, "Message-ID: %s\r\n", c.msgID())
	}
	if n := c.r.IntN(6); n > 0 {
		var refs []string
		for range n {
			refs = append(refs, c.msgID())
		}
		fmt.Fprintf(&h, "References: %s\r\n", strings.Join(refs, "\r\n "))
	}
	if c.r.IntN(4) == 0 {
		fmt.Fprintf(&h, "In-Reply-To: %s\r\n", c.msgID())
	}
	h.WriteString("\r\n")
	h.WriteString(strings.Repeat("x", c.r.IntN(40)))
	h.WriteString("\r\n")
	return []byte(h.String()), c.base.Add(time.Duration(c.r.IntN(6)) * time.Hour)
}

var dovecotSorts = [][]string{
	{"ARRIVAL"}, {"REVERSE", "ARRIVAL"}, {"DATE"}, {"REVERSE", "DATE"}, {"SIZE"}, {"REVERSE", "SIZE"},
	{"SUBJECT"}, {"REVERSE", "SUBJECT"}, {"SUBJECT", "REVERSE", "DATE"},
	{"FROM"}, {"REVERSE", "FROM"}, {"TO"}, {"CC"}, {"CC", "REVERSE", "ARRIVAL"},
	{"DISPLAYFROM"}, {"REVERSE", "DISPLAYFROM"}, {"DISPLAYTO"}, {"DISPLAYTO", "SUBJECT"},
}

func TestAgainstDovecot(t *testing.T) {
	requireDovecot(t)
	const mailboxes, perMailbox = 20, 50
	dv := startDovecot(t)
	failed, checked := 0, 0
	compare := func(what, got, want string) {
		checked++
		if got != want {
			failed++
			if failed <= 10 {
				t.Errorf("%s:\n got: %s\nwant: %s", what, got, want)
			}
		}
	}
	for mbox := range mailboxes {
		c := &corpus{r: rand.New(rand.NewPCG(uint64(mbox), 7)), ids: perMailbox / 2, base: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
		name := fmt.Sprintf("m%d", mbox)
		dv.do("CREATE "+name, "")
		var msgs []sortthread.Message
		for i := range perMailbox {
			raw, internal := c.message()
			dv.do(fmt.Sprintf("APPEND %s %q {%d+}\r\n%s", name, internal.Format("02-Jan-2006 15:04:05 -0700"), len(raw), raw), "")
			m := sortthread.Message{Seq: uint32(i + 1), UID: uint32(i + 1), InternalDate: internal, Size: int64(len(raw))}
			m.ParseHeader(raw)
			msgs = append(msgs, m)
		}
		dv.do("SELECT "+name, "")
		for _, crit := range dovecotSorts {
			want := dv.do(fmt.Sprintf("SORT (%s) UTF-8 ALL", strings.Join(crit, " ")), "* SORT")
			cr, err := sortthread.ParseCriteria(crit)
			if err != nil {
				t.Fatal(err)
			}
			b := []byte("* SORT")
			for _, n := range sortthread.Sort(msgs, cr, sortthread.NumSeq) {
				b = fmt.Appendf(b, " %d", n)
			}
			compare(fmt.Sprintf("%s SORT %v", name, crit), string(b), want)
		}
		for _, alg := range []sortthread.Algorithm{sortthread.OrderedSubject, sortthread.References} {
			want := dv.do(fmt.Sprintf("THREAD %s UTF-8 ALL", alg), "* THREAD")
			got := sortthread.AppendThreads([]byte("* THREAD "), sortthread.Threads(msgs, alg), sortthread.NumSeq)
			compare(fmt.Sprintf("%s THREAD %s", name, alg), string(got), want)
			// A search that matches part of the mailbox threads only what it matched.
			want = dv.do(fmt.Sprintf("UID THREAD %s UTF-8 5:30", alg), "* THREAD")
			got = sortthread.AppendThreads([]byte("* THREAD "), sortthread.Threads(msgs[4:30], alg), sortthread.NumUID)
			compare(fmt.Sprintf("%s UID THREAD %s 5:30", name, alg), string(got), want)
		}
		for _, ret := range [][]string{{"MIN", "MAX", "COUNT", "ALL"}, {"PARTIAL", "3:9"}, {"PARTIAL", "45:70"}, {"COUNT", "PARTIAL", "9:3"}} {
			crit := []string{"SUBJECT", "REVERSE", "DATE"}
			want := dv.do(fmt.Sprintf("SORT RETURN (%s) (%s) UTF-8 3:40", strings.Join(ret, " "), strings.Join(crit, " ")), "* ESEARCH")
			cr, _ := sortthread.ParseCriteria(crit)
			r, err := sortthread.ParseReturn(ret)
			if err != nil {
				t.Fatal(err)
			}
			got := r.AppendData([]byte(fmt.Sprintf("* ESEARCH (TAG \"q%d\")", dv.n)), sortthread.Sort(msgs[2:40], cr, sortthread.NumSeq))
			compare(fmt.Sprintf("%s SORT RETURN %v", name, ret), string(got), want)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d answers differ from Dovecot's", failed, checked)
	}
}
