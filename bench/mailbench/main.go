// Command mailbench is the client of the side-by-side benchmarks in bench/: the same code
// measures Sealgate and the peer (Dovecot), so the figures differ only by the server.
//
// It speaks just enough IMAP, POP3 and SMTP on plain TCP (loopback only) to time whole
// commands: it reads every byte of every response, including literals, but parses only what
// it needs to find the end of a response. Each timed operation runs -runs times after one
// warm-up run and the median is printed as "name ms" lines for bench/run.sh to compare.
//
//	mailbench imap   -addr 127.0.0.1:1143 -user bench -pass benchpass
//	mailbench pop3   -addr 127.0.0.1:1110 -user bench -pass benchpass
//	mailbench login  -addr 127.0.0.1:1143 -user bench -pass benchpass -logins 500
//	mailbench append -addr 127.0.0.1:2143 -user bench@gw.test -pass X -maildir DIR
//	mailbench count  -addr 127.0.0.1:2143 -user bench@gw.test -pass X
//	mailbench send   -addr 127.0.0.1:2525 -to bench@gw.test -size 52428800
//	mailbench deliver -addr 127.0.0.1:2525 -to bench@gw.test -maildir DIR -sessions 16
//	mailbench large  -server NAME,IMAP,POP3,USER,PROCS [-server ...] -pass X -n 100000 -runs 3
//	mailbench first  -server NAME,IMAP,POP3,USER,PROCS -pass X -n 100000
//
// large and first take their addresses from -server (PROCS is pid:N or comm:a+b, the
// processes whose peak RSS each step reports; see large.go).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mailbench imap|pop3|login|append|count|send|deliver|large|first [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "", "server host:port (loopback)")
	user := fs.String("user", "", "user name")
	pass := fs.String("pass", "", "password")
	runs := fs.Int("runs", 5, "timed runs after one warm-up; the median is printed")
	n := fs.Int("logins", 300, "login: number of logins")
	maildir := fs.String("maildir", "", "append: Maildir whose cur/ is appended in order")
	to := fs.String("to", "", "send: recipient")
	size := fs.Int("size", 50<<20, "send: message size in bytes")
	expect := fs.Int("expect", 0, "imap/pop3: the number of messages the mailbox must hold (0: any)")
	sessions := fs.Int("sessions", 16, "deliver: concurrent SMTP sessions")
	total := fs.Int("n", 0, "large/first: the number of messages the mailbox holds")
	expunge := fs.Int("expunge", 10000, "large: messages expunged per run (0: none)")
	only := fs.String("steps", "", "large: comma-separated names of the steps to run (empty: all)")
	var servers []server
	fs.Func("server", "large/first: NAME,IMAP,POP3,USER,PROCS (repeat for each server)", func(v string) error {
		sv, err := parseServer(v)
		servers = append(servers, sv)
		return err
	})
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "large", "first":
		var err error
		if len(servers) == 0 || *total <= 0 {
			err = errors.New("-server and -n are required")
		} else if os.Args[1] == "large" {
			err = benchLarge(servers, *pass, *total, *runs, *expunge, *only)
		} else {
			err = firstSearch(servers[0], *pass, *total)
		}
		if err != nil {
			fatal(err)
		}
		return
	}
	if h, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(h).IsLoopback() {
		fatal(fmt.Errorf("-addr must be a loopback host:port, got %q", *addr))
	}
	var err error
	switch os.Args[1] {
	case "imap":
		err = benchIMAP(*addr, *user, *pass, *runs, *expect)
	case "pop3":
		err = benchPOP3(*addr, *user, *pass, *runs, *expect)
	case "login":
		err = benchLogin(*addr, *user, *pass, *n)
	case "append":
		err = appendMaildir(*addr, *user, *pass, *maildir)
	case "count":
		var c *imapConn
		if c, err = dialIMAP(*addr, *user, *pass); err == nil {
			var exists int
			exists, err = c.selectBox("INBOX")
			fmt.Println(exists)
		}
	case "send":
		err = sendLarge(*addr, *to, *size)
	case "deliver":
		err = deliverMaildir(*addr, *to, *maildir, *sessions)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mailbench:", err)
	os.Exit(1)
}

// timed runs fn once to warm up and then runs times, and prints the median in milliseconds.
func timed(name string, runs int, fn func() error) error {
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var ds []time.Duration
	for range runs {
		start := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	fmt.Printf("%s %.1f\n", name, float64(ds[len(ds)/2].Microseconds())/1000)
	return nil
}

type imapConn struct {
	c   net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	tag int
	// bytes counts literal bytes read, so a run can check it received the bodies.
	bytes int64
}

func dialIMAP(addr, user, pass string) (*imapConn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &imapConn{c: nc, r: bufio.NewReaderSize(nc, 1<<16), w: bufio.NewWriterSize(nc, 1<<16)}
	if _, err := c.r.ReadString('\n'); err != nil {
		return nil, err
	}
	if _, err := c.cmd(fmt.Sprintf("LOGIN %s %s", quote(user), quote(pass)), nil); err != nil {
		nc.Close()
		return nil, fmt.Errorf("login: %w", err)
	}
	return c, nil
}

func quote(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }

// cmd sends one command and reads up to its tagged reply; untagged lines (with their
// literals read and counted) go to each.
func (c *imapConn) cmd(line string, each func(string)) (string, error) {
	c.tag++
	tag := "a" + strconv.Itoa(c.tag)
	fmt.Fprintf(c.w, "%s %s\r\n", tag, line)
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return c.readUntil(tag, each)
}

func (c *imapConn) readUntil(tag string, each func(string)) (string, error) {
	for {
		line, err := c.readResponse()
		if err != nil {
			return "", err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				return "", errors.New(strings.TrimSpace(rest))
			}
			return rest, nil
		}
		if each != nil {
			each(line)
		}
	}
}

// readResponse reads one response line, following literals; it returns the text outside
// the literals.
func (c *imapConn) readResponse() (string, error) {
	var text strings.Builder
	for {
		line, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			text.Write(line)
			continue
		}
		if err != nil {
			return "", err
		}
		text.Write(line)
		s := strings.TrimRight(string(line), "\r\n")
		if !strings.HasSuffix(s, "}") {
			return text.String(), nil
		}
		open := strings.LastIndexByte(s, '{')
		n, err := strconv.ParseInt(strings.TrimSuffix(s[open+1:len(s)-1], "+"), 10, 64)
		if open < 0 || err != nil {
			return text.String(), nil
		}
		if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
			return "", err
		}
		c.bytes += n
	}
}

func (c *imapConn) selectBox(name string) (int, error) {
	exists := 0
	_, err := c.cmd("SELECT "+quote(name), func(l string) {
		if f := strings.Fields(l); len(f) >= 3 && f[2] == "EXISTS" {
			exists, _ = strconv.Atoi(f[1])
		}
	})
	return exists, err
}

func benchIMAP(addr, user, pass string, runs, expect int) error {
	c, err := dialIMAP(addr, user, pass)
	if err != nil {
		return err
	}
	n, err := c.selectBox("INBOX")
	if err != nil {
		return err
	}
	if expect > 0 && n != expect {
		return fmt.Errorf("INBOX holds %d messages, want %d", n, expect)
	}
	fetch := func(cmd string) func() error {
		return func() error {
			got := 0
			c.bytes = 0
			_, err := c.cmd(cmd, func(l string) {
				if strings.Contains(l, " FETCH ") {
					got++
				}
			})
			if err == nil && got != n {
				err = fmt.Errorf("%d FETCH responses for %d messages", got, n)
			}
			return err
		}
	}
	if err := timed("imap_fetch_envelope", runs, fetch("FETCH 1:* (FLAGS ENVELOPE)")); err != nil {
		return err
	}
	if err := timed("imap_fetch_body", runs, fetch("UID FETCH 1:* BODY.PEEK[]")); err != nil {
		return err
	}
	fmt.Printf("imap_body_bytes %d\n", c.bytes)
	hits := 0
	err = timed("imap_search_body", runs, func() error {
		hits = 0
		_, err := c.cmd(`SEARCH BODY "needle"`, func(l string) {
			if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
				hits = len(strings.Fields(rest))
			}
		})
		return err
	})
	fmt.Printf("imap_search_hits %d\n", hits)
	c.cmd("LOGOUT", nil)
	return err
}

func benchPOP3(addr, user, pass string, runs, expect int) error {
	var total int64
	err := timed("pop3_download", runs, func() error {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer nc.Close()
		r, w := bufio.NewReaderSize(nc, 1<<16), bufio.NewWriterSize(nc, 1<<16)
		ok := func() (string, error) {
			l, err := r.ReadString('\n')
			if err == nil && !strings.HasPrefix(l, "+OK") {
				err = fmt.Errorf("pop3: %s", strings.TrimSpace(l))
			}
			return l, err
		}
		if _, err := ok(); err != nil {
			return err
		}
		fmt.Fprintf(w, "USER %s\r\nPASS %s\r\nSTAT\r\n", user, pass)
		w.Flush()
		var stat string
		for range 3 {
			if stat, err = ok(); err != nil {
				return err
			}
		}
		n := 0
		if f := strings.Fields(stat); len(f) >= 2 {
			n, _ = strconv.Atoi(f[1])
		}
		if expect > 0 && n != expect {
			return fmt.Errorf("maildrop holds %d messages, want %d", n, expect)
		}
		// Pipelined (RFC 2449 PIPELINING): every RETR is sent before reading the replies.
		go func() {
			for i := 1; i <= n; i++ {
				fmt.Fprintf(w, "RETR %d\r\n", i)
			}
			fmt.Fprintf(w, "QUIT\r\n")
			w.Flush()
		}()
		total = 0
		for range n {
			if _, err := ok(); err != nil {
				return err
			}
			for {
				l, err := r.ReadSlice('\n')
				if err != nil && err != bufio.ErrBufferFull {
					return err
				}
				total += int64(len(l))
				if err == nil && (string(l) == ".\r\n" || string(l) == ".\n") {
					break
				}
			}
		}
		_, err = ok()
		return err
	})
	fmt.Printf("pop3_bytes %d\n", total)
	return err
}

func benchLogin(addr, user, pass string, n int) error {
	start := time.Now()
	for range n {
		c, err := dialIMAP(addr, user, pass)
		if err != nil {
			return err
		}
		c.cmd("LOGOUT", nil)
		c.c.Close()
	}
	fmt.Printf("imap_logins_per_s %.0f\n", float64(n)/time.Since(start).Seconds())
	return nil
}

// appendMaildir APPENDs every message of DIR/cur, in the order of their names' leading
// number, with \Seen when the name has the S flag.
func appendMaildir(addr, user, pass, dir string) error {
	names, err := maildirOrder(dir)
	if err != nil {
		return err
	}
	c, err := dialIMAP(addr, user, pass)
	if err != nil {
		return err
	}
	for _, p := range names {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		flags := ""
		if strings.HasSuffix(p, "S") {
			flags = `(\Seen) `
		}
		c.tag++
		tag := "a" + strconv.Itoa(c.tag)
		fmt.Fprintf(c.w, "%s APPEND INBOX %s{%d+}\r\n", tag, flags, len(data))
		c.w.Write(data)
		c.w.WriteString("\r\n")
		if err := c.w.Flush(); err != nil {
			return err
		}
		if _, err := c.readUntil(tag, nil); err != nil {
			return fmt.Errorf("append %s: %w", p, err)
		}
	}
	fmt.Printf("appended %d\n", len(names))
	return nil
}

// sendLarge sends one message of about size bytes of text over SMTP.
func sendLarge(addr, to string, size int) error {
	c, err := dialSMTP(addr)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	for _, l := range []string{"MAIL FROM:<sender@example.org>", "RCPT TO:<" + to + ">", "DATA"} {
		if err := c.cmd(l); err != nil {
			return err
		}
	}
	w := c.w
	start := time.Now()
	fmt.Fprintf(w, "From: sender@example.org\r\nTo: %s\r\nSubject: large\r\nMessage-ID: <large.%d@example.org>\r\n\r\n", to, time.Now().UnixNano())
	line := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 2)
	line = append(line, "\r\n"...)
	for sent := 0; sent < size; sent += len(line) {
		w.Write(line)
	}
	if err := c.cmd("."); err != nil {
		return err
	}
	fmt.Printf("large_accept_ms %d\n", time.Since(start).Milliseconds())
	return c.quit()
}
