package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// server is one side of a large-mailbox comparison: its IMAP and POP3 addresses, its user and
// the processes whose peak RSS is taken during each step.
type server struct {
	name, imap, pop3, user string
	// procs: "pid:N" (one process) or "comm:a+b+c" (every process whose comm is one of those,
	// summed: Dovecot forks one imap or pop3 process per session).
	procs string
}

// parseServer reads NAME,IMAP,POP3,USER,PROCS.
func parseServer(s string) (server, error) {
	f := strings.Split(s, ",")
	if len(f) != 5 {
		return server{}, fmt.Errorf("-server %q: want NAME,IMAP,POP3,USER,PROCS", s)
	}
	for _, a := range f[1:3] {
		if h, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(h).IsLoopback() {
			return server{}, fmt.Errorf("-server %q: %q is not a loopback host:port", s, a)
		}
	}
	return server{name: f[0], imap: f[1], pop3: f[2], user: f[3], procs: f[4]}, nil
}

// pids lists the processes of the server as they are now.
func (sv server) pids() []int {
	if p, ok := strings.CutPrefix(sv.procs, "pid:"); ok {
		n, _ := strconv.Atoi(p)
		return []int{n}
	}
	names := strings.Split(strings.TrimPrefix(sv.procs, "comm:"), "+")
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && slices.Contains(names, strings.TrimSpace(string(comm))) {
			out = append(out, pid)
		}
	}
	return out
}

// resetPeak sets every process's VmHWM back to its current RSS (clear_refs 5; needs root or
// the same user).
func (sv server) resetPeak() {
	for _, p := range sv.pids() {
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
	}
}

// peakKiB is the sum of VmHWM over the server's processes.
func (sv server) peakKiB() int {
	sum := 0
	for _, p := range sv.pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				sum += n
			}
		}
	}
	return sum
}

// step is one timed operation. setup runs on a new logged-in session before the clock
// starts; op is timed; the peak RSS is read before the session ends, while Dovecot's
// session process still lives.
type step struct {
	name  string
	pop3  bool
	selOK bool // setup selects INBOX
	op    func(c *imapConn, n int) error
	popOp func(p *pop3Conn, n int) error
}

// largeSteps are the read-only steps; EXPUNGE comes after them, on its own.
func largeSteps(n int) []step {
	one := fmt.Sprintf("<%d.1700000000@example.org>", n/2+1)
	return []step{
		{name: "select", op: func(c *imapConn, _ int) error { _, err := c.selectBox("INBOX"); return err }},
		{name: "examine", op: func(c *imapConn, _ int) error { _, err := c.cmd("EXAMINE INBOX", nil); return err }},
		{name: "status", op: func(c *imapConn, _ int) error {
			_, err := c.cmd("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)", nil)
			return err
		}},
		{name: "fetch_newest50_envelope", selOK: true, op: func(c *imapConn, n int) error {
			return c.expectFetch(fmt.Sprintf("FETCH %d:* (FLAGS ENVELOPE)", max(1, n-49)), min(n, 50))
		}},
		{name: "uid_fetch_all_flags", selOK: true, op: func(c *imapConn, n int) error {
			return c.expectFetch("UID FETCH 1:* (FLAGS)", n)
		}},
		{name: "uid_search_header", selOK: true, op: func(c *imapConn, _ int) error {
			return c.expectSearch(`UID SEARCH HEADER Message-ID "`+one+`"`, 1)
		}},
		{name: "uid_search_body", selOK: true, op: func(c *imapConn, n int) error {
			return c.expectSearch(`UID SEARCH BODY "needle"`, n/100)
		}},
		{name: "esearch_many", selOK: true, op: func(c *imapConn, n int) error {
			return c.expectSearch(`UID SEARCH RETURN (COUNT MIN MAX ALL) FROM "example.org"`, n)
		}},
		{name: "pop3_uidl", pop3: true, popOp: func(p *pop3Conn, n int) error {
			lines, err := p.multi("UIDL")
			if err == nil && lines != n {
				err = fmt.Errorf("UIDL listed %d of %d", lines, n)
			}
			return err
		}},
		{name: "pop3_retr_newest", pop3: true, popOp: func(p *pop3Conn, n int) error {
			_, err := p.multi(fmt.Sprintf("RETR %d", n))
			return err
		}},
	}
}

func (c *imapConn) expectFetch(cmd string, want int) error {
	got := 0
	_, err := c.cmd(cmd, func(l string) {
		if strings.Contains(l, " FETCH ") {
			got++
		}
	})
	if err == nil && got != want {
		err = fmt.Errorf("%s: %d FETCH responses, want %d", cmd, got, want)
	}
	return err
}

// expectSearch counts the hits of a SEARCH or an ESEARCH (COUNT) answer.
func (c *imapConn) expectSearch(cmd string, want int) error {
	got := -1
	_, err := c.cmd(cmd, func(l string) {
		if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
			got = len(strings.Fields(rest))
		}
		if _, rest, ok := strings.Cut(l, " COUNT "); ok && strings.HasPrefix(l, "* ESEARCH") {
			got, _ = strconv.Atoi(strings.Fields(rest)[0])
		}
	})
	if err == nil && got != want {
		err = fmt.Errorf("%s: %d hits, want %d", cmd, got, want)
	}
	return err
}

type pop3Conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dialPOP3(addr, user, pass string) (*pop3Conn, int, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	p := &pop3Conn{c: nc, r: bufio.NewReaderSize(nc, 1<<16), w: bufio.NewWriterSize(nc, 1<<16)}
	if _, err := p.ok(); err != nil {
		nc.Close()
		return nil, 0, err
	}
	var stat string
	for _, l := range []string{"USER " + user, "PASS " + pass, "STAT"} {
		fmt.Fprintf(p.w, "%s\r\n", l)
		p.w.Flush()
		if stat, err = p.ok(); err != nil {
			nc.Close()
			return nil, 0, err
		}
	}
	n := 0
	if f := strings.Fields(stat); len(f) >= 2 {
		n, _ = strconv.Atoi(f[1])
	}
	return p, n, nil
}

func (p *pop3Conn) ok() (string, error) {
	l, err := p.r.ReadString('\n')
	if err == nil && !strings.HasPrefix(l, "+OK") {
		err = fmt.Errorf("pop3: %s", strings.TrimSpace(l))
	}
	return l, err
}

// multi sends a command with a multi-line answer and reads it; it returns the number of lines.
func (p *pop3Conn) multi(cmd string) (int, error) {
	fmt.Fprintf(p.w, "%s\r\n", cmd)
	p.w.Flush()
	if _, err := p.ok(); err != nil {
		return 0, err
	}
	lines := 0
	for {
		l, err := p.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return lines, err
		}
		if string(l) == ".\r\n" || string(l) == ".\n" {
			return lines, nil
		}
		lines++
	}
}

func (p *pop3Conn) quit() {
	fmt.Fprintf(p.w, "QUIT\r\n")
	p.w.Flush()
	p.ok()
	p.c.Close()
}

type sample struct {
	ms  float64
	kib int
}

// runStep runs st once against sv: new session, setup, clock, op, peak RSS, logout.
func runStep(sv server, pass string, st step, n int) (sample, error) {
	var s sample
	if st.pop3 {
		p, got, err := dialPOP3(sv.pop3, sv.user, pass)
		if err != nil {
			return s, err
		}
		defer p.quit()
		if got != n {
			return s, fmt.Errorf("maildrop holds %d, want %d", got, n)
		}
		return sv.measure(func() error { return st.popOp(p, n) })
	}
	c, err := dialIMAP(sv.imap, sv.user, pass)
	if err != nil {
		return s, err
	}
	defer func() { c.cmd("LOGOUT", nil); c.c.Close() }()
	if st.selOK {
		got, err := c.selectBox("INBOX")
		if err != nil {
			return s, err
		}
		if got != n {
			return s, fmt.Errorf("INBOX holds %d, want %d", got, n)
		}
	}
	return sv.measure(func() error { return st.op(c, n) })
}

// measure times op and reads the peak RSS of the server's processes while it ran.
func (sv server) measure(op func() error) (sample, error) {
	sv.resetPeak()
	start := time.Now()
	err := op()
	return sample{ms: float64(time.Since(start).Microseconds()) / 1000, kib: sv.peakKiB()}, err
}

// benchLarge runs every step runs times on every server, interleaved (step by step, server by
// server within a round), so that the machine's load falls on all of them alike. It prints
// "server step median_ms peak_kib all_ms" lines. Then it expunges `expunge` messages, runs
// times in a row, on each server. A non-empty only (names separated by commas) runs only
// those read-only steps.
func benchLarge(servers []server, pass string, n, runs, expunge int, only string) error {
	for _, st := range largeSteps(n) {
		if only != "" && !slices.Contains(strings.Split(only, ","), st.name) {
			continue
		}
		res := make([][]sample, len(servers))
		for r := 0; r <= runs; r++ { // round 0 warms up
			for i, sv := range servers {
				s, err := runStep(sv, pass, st, n)
				if err != nil {
					return fmt.Errorf("%s %s: %w", sv.name, st.name, err)
				}
				if r > 0 {
					res[i] = append(res[i], s)
				}
			}
		}
		for i, sv := range servers {
			printSamples(sv.name, st.name, res[i])
		}
	}
	if expunge <= 0 {
		return nil
	}
	res := make([][]sample, len(servers))
	left := n
	for r := 0; r < runs && left >= expunge; r++ {
		for i, sv := range servers {
			s, err := runExpunge(sv, pass, left, expunge)
			if err != nil {
				return fmt.Errorf("%s expunge: %w", sv.name, err)
			}
			res[i] = append(res[i], s)
		}
		left -= expunge
	}
	for i, sv := range servers {
		printSamples(sv.name, fmt.Sprintf("expunge_%d", expunge), res[i])
	}
	return nil
}

// runExpunge marks the oldest k messages \Deleted and times STORE + EXPUNGE.
func runExpunge(sv server, pass string, n, k int) (sample, error) {
	var s sample
	c, err := dialIMAP(sv.imap, sv.user, pass)
	if err != nil {
		return s, err
	}
	defer func() { c.cmd("LOGOUT", nil); c.c.Close() }()
	if got, err := c.selectBox("INBOX"); err != nil || got != n {
		return s, fmt.Errorf("INBOX holds %d, want %d (%v)", got, n, err)
	}
	sv.resetPeak()
	start := time.Now()
	if _, err := c.cmd(fmt.Sprintf("STORE 1:%d +FLAGS.SILENT (\\Deleted)", k), nil); err != nil {
		return s, err
	}
	gone := 0
	if _, err := c.cmd("EXPUNGE", func(l string) {
		if strings.HasSuffix(strings.TrimSpace(l), " EXPUNGE") {
			gone++
		}
	}); err != nil {
		return s, err
	}
	s.ms = float64(time.Since(start).Microseconds()) / 1000
	s.kib = sv.peakKiB()
	if gone != k {
		return s, fmt.Errorf("%d EXPUNGE responses, want %d", gone, k)
	}
	return s, nil
}

func printSamples(server, step string, ss []sample) {
	ms := make([]float64, len(ss))
	peak := 0
	for i, s := range ss {
		ms[i] = s.ms
		peak = max(peak, s.kib)
	}
	all := make([]string, len(ms))
	for i, m := range ms {
		all[i] = strconv.FormatFloat(m, 'f', 2, 64)
	}
	slices.Sort(ms)
	fmt.Printf("%s %s %.2f %d %s\n", server, step, ms[len(ms)/2], peak, strings.Join(all, ","))
}

// firstSearch logs in, selects INBOX and runs UID SEARCH BODY "needle" once; it prints the time
// from the connection to the answer.
func firstSearch(sv server, pass string, n int) error {
	sv.resetPeak()
	start := time.Now()
	c, err := dialIMAP(sv.imap, sv.user, pass)
	if err != nil {
		return err
	}
	defer func() { c.cmd("LOGOUT", nil); c.c.Close() }()
	if got, err := c.selectBox("INBOX"); err != nil || got != n {
		return fmt.Errorf("INBOX holds %d, want %d (%v)", got, n, err)
	}
	if err := c.expectSearch(`UID SEARCH BODY "needle"`, n/100); err != nil {
		return err
	}
	fmt.Printf("%s first_search %.1f %d\n", sv.name, float64(time.Since(start).Microseconds())/1000, sv.peakKiB())
	return nil
}

// deliverMaildir sends every message of DIR/cur over SMTP to one recipient, from `sessions`
// concurrent sessions, as an MX receives a burst: the server's whole ingestion path. It
// prints the time from the first MAIL to the last 250.
func deliverMaildir(addr, to, dir string, sessions int) error {
	names, err := maildirOrder(dir)
	if err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, sessions)
	start := time.Now()
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = deliverSession(addr, to, names, &next)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("deliver_ms %d\ndeliver_per_s %.0f\n", el.Milliseconds(), float64(len(names))/el.Seconds())
	return nil
}

// maildirOrder lists DIR/cur in the order of the names' leading number (delivery order).
func maildirOrder(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "cur", "*"))
	if err != nil {
		return nil, err
	}
	num := func(p string) int {
		b := filepath.Base(p)
		_, after, _ := strings.Cut(b, ".M")
		i, _ := strconv.Atoi(after[:strings.IndexByte(after, 'P')])
		return i
	}
	slices.SortFunc(names, func(a, b string) int { return num(a) - num(b) })
	return names, nil
}

func deliverSession(addr, to string, names []string, next *atomic.Int64) error {
	c, err := dialSMTP(addr)
	if err != nil {
		return err
	}
	defer func() { c.nc.Close() }()
	sent := 0
	for {
		i := next.Add(1) - 1
		if int(i) >= len(names) {
			return c.quit()
		}
		data, err := os.ReadFile(names[i])
		if err != nil {
			return err
		}
		// Pipelined envelope (RFC 2920), then the data, dot-stuffed.
		fmt.Fprintf(c.w, "MAIL FROM:<sender@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n", to)
		c.w.Flush()
		for range 3 {
			if err := c.reply(); err != nil {
				return fmt.Errorf("%s: %w", names[i], err)
			}
		}
		for l := range strings.SplitAfterSeq(string(data), "\n") {
			if strings.HasPrefix(l, ".") {
				c.w.WriteByte('.')
			}
			c.w.WriteString(l)
		}
		if err := c.cmd("."); err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		// A new connection now and then, as an MX's peers reconnect.
		if sent++; sent%100 == 0 {
			c.quit()
			nc, err := dialSMTP(addr)
			if err != nil {
				return err
			}
			c = nc
		}
	}
}
