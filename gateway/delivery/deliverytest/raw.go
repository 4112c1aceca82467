package deliverytest

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// RawOptions script a RawPeer. Each reply is one or more complete reply lines without the
// final CRLF ("550 5.1.0 no"); "" is the default given.
type RawOptions struct {
	Greeting string // "220 raw.test ESMTP"; a reply other than 220 is followed by a close
	// Extensions are the EHLO keywords after the first line; nil is PIPELINING and 8BITMIME.
	Extensions []string
	Mail       string // "250 2.1.0 OK"
	Rcpt       string // "250 2.1.5 OK"
	Data       string // "354 go ahead"
	End        string // the reply to the final dot: "250 2.0.0 queued"
}

// RawPeer is an SMTP server on loopback written on bare TCP: it answers from a script, so it
// can give replies go-smtp never would (421 at the greeting, 5xx to MAIL), and it keeps the
// bytes a client sent as they came over the wire, which go-smtp's reader would normalise.
type RawPeer struct {
	Addr string
	opts RawOptions
	ln   net.Listener

	watched
	messages [][]byte // DATA content as sent: dot-stuffed, without the end marker
	mails    int      // MAIL commands seen
}

// StartRaw runs a RawPeer until the test ends.
func StartRaw(t testing.TB, opts RawOptions) *RawPeer {
	t.Helper()
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&opts.Greeting, "220 raw.test ESMTP")
	def(&opts.Mail, "250 2.1.0 OK")
	def(&opts.Rcpt, "250 2.1.5 OK")
	def(&opts.Data, "354 go ahead")
	def(&opts.End, "250 2.0.0 queued")
	if opts.Extensions == nil {
		opts.Extensions = []string{"PIPELINING", "8BITMIME"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &RawPeer{Addr: ln.Addr().String(), opts: opts, ln: ln, watched: newWatched()}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return p
}

// Messages returns the content of every DATA so far, as the client sent it.
func (p *RawPeer) Messages() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.messages...)
}

// Mails counts the MAIL commands received.
func (p *RawPeer) Mails() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mails
}

// Wait waits until cond holds or timeout passes (the timeout only ends a broken test).
func (p *RawPeer) Wait(timeout time.Duration, cond func(*RawPeer) bool) bool {
	return p.wait(timeout, func() bool { return cond(p) })
}

const rawSessionTimeout = 30 * time.Second

func (p *RawPeer) serve(c net.Conn) {
	p.update(func() { p.sessions++ })
	c.SetDeadline(time.Now().Add(rawSessionTimeout))
	br := bufio.NewReader(c)
	say := func(r string) bool {
		_, err := c.Write([]byte(strings.ReplaceAll(r, "\n", "\r\n") + "\r\n"))
		return err == nil
	}
	if !say(p.opts.Greeting) || !strings.HasPrefix(p.opts.Greeting, "220") {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.ToUpper(strings.TrimRight(line, "\r\n")), " ")
		var r string
		switch verb {
		case "EHLO":
			lines := append([]string{"raw.test"}, p.opts.Extensions...)
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				lines[i] = "250" + sep + l
			}
			r = strings.Join(lines, "\n")
		case "HELO", "RSET", "NOOP":
			r = "250 2.0.0 OK"
		case "MAIL":
			p.update(func() { p.mails++ })
			r = p.opts.Mail
		case "RCPT":
			r = p.opts.Rcpt
		case "DATA":
			if !say(p.opts.Data) {
				return
			}
			if !strings.HasPrefix(p.opts.Data, "354") {
				continue
			}
			msg, ok := readRawData(br)
			if !ok {
				return
			}
			p.update(func() { p.messages = append(p.messages, msg) })
			r = p.opts.End
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			r = "502 5.5.1 not implemented here"
		}
		if !say(r) {
			return
		}
	}
}

// readRawData reads up to and including the end marker CRLF "." CRLF and returns what came
// before it, keeping the last line's CRLF.
func readRawData(br *bufio.Reader) ([]byte, bool) {
	var buf []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return nil, false
		}
		buf = append(buf, b)
		if bytes.Equal(buf, []byte(".\r\n")) {
			return nil, true
		}
		if bytes.HasSuffix(buf, []byte("\r\n.\r\n")) {
			return buf[:len(buf)-3], true
		}
	}
}
