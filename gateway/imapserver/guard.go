package imapserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// commandGuard sits between a client connection and the library's command reader and keeps
// the literal framing of RFC 9051 §4.3 in our hands:
//
//   - The bytes of a literal the server did not take are never parsed as commands. When the
//     library refuses a non-synchronizing literal ({n+}: too large, or in a command it
//     rejects before reading the literal), it answers the command and reads on; the guard
//     sees that answer go out before the literal was read, and drops the literal and the
//     rest of its command instead of handing them on. A literal larger than the server's
//     message size limit is not read at all: the connection ends with BYE.
//   - STARTTLS is done here, not by the library (whose TLS would sit above the guard and hide
//     the command stream from it): the guard answers it, discards anything pipelined after
//     it, and hands the TLS connection to the server's TLS-only library server as a new
//     session whose greeting it swallows (startTLS).
//
// The guard follows the client's framing by lines: a line that ends in a literal header
// "{n}" or "{n+}" is followed by n bytes of literal and then the rest of the same command.
// It watches the server's writes only while such a header has been handed on and its
// literal not yet read: a command continuation request ("+") means the literal follows, the
// command's tagged response means it was refused.
type commandGuard struct {
	net.Conn // the connection below: plain, or TLS
	// maxSkip is the largest refused literal read and dropped; a larger one ends the session.
	maxSkip int64
	// startTLS, when set, takes over the connection at a STARTTLS command before login.
	startTLS func(g *commandGuard, tag string, underlying net.Conn)

	// Read side: only the library's reading goroutine.
	buf      []byte
	r, w     int
	rerr     error
	failed   error  // the session is over: every Read returns it
	atStart  bool   // the next byte starts a command
	inTag    bool   // reading the tag of a command
	tag      []byte // the current command's tag
	tail     []byte // the last bytes of the current line (literal header detection)
	lineLen  int    // bytes of the current line so far
	literal  int64  // literal bytes still to hand on
	skip     int64  // refused literal bytes still to drop
	dropping bool   // dropping the rest of a command whose literal was refused

	mu sync.Mutex // guards what both sides touch
	// header is the literal header handed on whose outcome is not known yet.
	header   *literalHeader
	authed   bool // a login succeeded: STARTTLS is the library's to refuse
	detached bool // the connection moved on (STARTTLS): this guard reads EOF and writes nothing
	greeting bool // drop the next line written (the greeting of a session after STARTTLS)
	wLine    []byte
	wAtStart bool
}

type literalHeader struct {
	size    int64
	nonSync bool
	tag     string
	// outcome seen in the server's writes: '+' continuation, 't' tagged response, 0 none yet
	outcome byte
}

// errLiteralTooLarge ends a session whose refused literal is larger than the server would read.
var errLiteralTooLarge = errors.New("imapserver: refused literal too large to skip")

const (
	guardBuffer = 4 << 10 // as the library's own reader; a STARTTLS line is far shorter
	tailLen     = 24
	maxTagLen   = 128
)

func newCommandGuard(c net.Conn, maxSkip int64) *commandGuard {
	return &commandGuard{Conn: c, maxSkip: maxSkip, buf: make([]byte, guardBuffer), atStart: true, wAtStart: true}
}

func (g *commandGuard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		g.mu.Lock()
		detached := g.detached
		g.mu.Unlock()
		if detached {
			return 0, io.EOF
		}
		if g.failed != nil {
			return 0, g.failed
		}
		if err := g.settleHeader(); err != nil {
			g.failed = err // sticky: the library's reader reports an error once and reads on
			return 0, err
		}
		if g.r == g.w {
			if g.rerr != nil {
				return 0, g.rerr
			}
			g.r, g.w = 0, 0
			n, err := g.Conn.Read(g.buf)
			g.w, g.rerr = n, err
			continue
		}
		if g.skip > 0 {
			n := int(min(g.skip, int64(g.w-g.r)))
			g.r += n
			g.skip -= int64(n)
			continue
		}
		n, wait, err := g.scan(p)
		if err != nil {
			g.failed = err
			return 0, err
		}
		if n > 0 {
			return n, nil
		}
		if wait { // an incomplete line that may be STARTTLS: read more first
			if g.rerr != nil {
				return 0, g.rerr
			}
			if g.r > 0 {
				g.w = copy(g.buf, g.buf[g.r:g.w])
				g.r = 0
			}
			n, err := g.Conn.Read(g.buf[g.w:])
			g.w += n
			g.rerr = err
		}
	}
}

// settleHeader decides, once the server has answered a literal header, what follows it.
func (g *commandGuard) settleHeader() error {
	g.mu.Lock()
	h := g.header
	g.header = nil
	g.mu.Unlock()
	if h == nil {
		return nil
	}
	refused := h.outcome == 't'
	switch {
	case !refused:
		g.literal = h.size
	case !h.nonSync:
		// A refused synchronizing literal is never sent: the command has ended.
		g.commandEnded()
	default:
		if h.size > g.maxSkip {
			g.mu.Lock()
			g.wAtStart = true
			g.mu.Unlock()
			fmt.Fprint(g.Conn, "* BYE Literal too large\r\n")
			return errLiteralTooLarge
		}
		g.skip = h.size
		g.dropping = true
	}
	return nil
}

func (g *commandGuard) commandEnded() {
	g.atStart, g.inTag, g.dropping = true, false, false
	g.tag = g.tag[:0]
}

// scan hands on bytes from the buffer to p: literal bytes in bulk, command lines up to and
// including a line that ends in a literal header. wait asks for more input before a partial
// line can be judged.
func (g *commandGuard) scan(p []byte) (n int, wait bool, err error) {
	for n < len(p) && g.r < g.w {
		if g.literal > 0 {
			k := int(min(g.literal, int64(g.w-g.r), int64(len(p)-n)))
			copy(p[n:], g.buf[g.r:g.r+k])
			g.r += k
			n += k
			g.literal -= int64(k)
			continue
		}
		if g.atStart && g.startTLS != nil && !g.dropping {
			if n > 0 {
				return n, false, nil // judge the next command at the start of a Read
			}
			line, ok := g.completeLine()
			full := g.r == 0 && g.w == len(g.buf) // longer than any STARTTLS line
			if !ok && !full {
				return 0, true, nil
			}
			if tag, isTLS := startTLSCommand(line); ok && isTLS && !g.isAuthed() {
				g.takeOverForTLS(tag)
				return 0, false, io.EOF
			}
		}
		avail := g.buf[g.r:g.w]
		if room := len(p) - n; len(avail) > room {
			avail = avail[:room]
		}
		lf := bytes.IndexByte(avail, '\n')
		seg := avail
		if lf >= 0 {
			seg = avail[:lf+1]
		}
		g.noteLine(seg)
		if !g.dropping {
			copy(p[n:], seg)
			n += len(seg)
		}
		g.r += len(seg)
		if lf < 0 {
			continue
		}
		h := g.literalHeader()
		g.lineLen, g.tail = 0, g.tail[:0]
		if h == nil {
			g.commandEnded()
			continue
		}
		if g.dropping {
			// Inside a refused command: a further non-synchronizing literal is dropped too;
			// a synchronizing one will not come, so the command ends here.
			if !h.nonSync {
				g.commandEnded()
				continue
			}
			if h.size > g.maxSkip {
				fmt.Fprint(g.Conn, "* BYE Literal too large\r\n")
				return n, false, errLiteralTooLarge
			}
			g.skip = h.size
			return n, false, nil
		}
		if h.size == 0 {
			continue
		}
		h.tag = string(g.tag)
		g.mu.Lock()
		g.header = h
		g.mu.Unlock()
		return n, false, nil // the server answers (or reads the literal) before the next Read
	}
	return n, false, nil
}

// noteLine follows a segment of the current line (up to and including its LF): the tag of a
// new command and the line's last bytes.
func (g *commandGuard) noteLine(seg []byte) {
	if g.atStart {
		g.atStart, g.inTag = false, true
		g.tag = g.tag[:0]
	}
	if g.inTag {
		end := bytes.IndexAny(seg, " \r\n")
		part := seg
		if end >= 0 {
			part = seg[:end]
			g.inTag = false
		}
		if len(g.tag)+len(part) <= maxTagLen {
			g.tag = append(g.tag, part...)
		}
	}
	g.lineLen += len(seg)
	if len(seg) >= tailLen {
		g.tail = append(g.tail[:0], seg[len(seg)-tailLen:]...)
	} else {
		g.tail = append(g.tail, seg...)
		if len(g.tail) > tailLen {
			g.tail = g.tail[len(g.tail)-tailLen:]
		}
	}
}

// literalHeader parses a literal header at the end of the line just completed: "{n}" or
// "{n+}" before CRLF (or a bare LF, which the library's reader also takes as a line end).
func (g *commandGuard) literalHeader() *literalHeader {
	t := bytes.TrimSuffix(bytes.TrimSuffix(g.tail, []byte("\n")), []byte("\r"))
	if len(t) < 3 || t[len(t)-1] != '}' {
		return nil
	}
	open := bytes.LastIndexByte(t, '{')
	if open < 0 {
		return nil
	}
	num := t[open+1 : len(t)-1]
	h := &literalHeader{}
	if n := len(num); n > 0 && num[n-1] == '+' {
		h.nonSync = true
		num = num[:n-1]
	}
	if len(num) == 0 {
		return nil
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return nil
		}
	}
	size, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		size = 1<<63 - 1 // more digits than any size: the library refuses it
	}
	h.size = size
	return h
}

// completeLine returns the buffered line at the read position if its LF has arrived.
func (g *commandGuard) completeLine() ([]byte, bool) {
	avail := g.buf[g.r:g.w]
	lf := bytes.IndexByte(avail, '\n')
	if lf < 0 {
		return nil, false
	}
	return avail[:lf+1], true
}

// startTLSCommand reports whether line is "tag STARTTLS" and returns the tag.
func startTLSCommand(line []byte) (string, bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	tag, cmd, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(tag) == 0 || !bytes.EqualFold(cmd, []byte("STARTTLS")) {
		return "", false
	}
	return string(tag), true
}

func (g *commandGuard) isAuthed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.authed
}

// authenticated tells the guard a login succeeded: STARTTLS is no longer its to answer.
func (g *commandGuard) authenticated() {
	g.mu.Lock()
	g.authed = true
	g.mu.Unlock()
}

// takeOverForTLS detaches the guard from its connection and hands the connection to startTLS.
// Whatever the client sent after STARTTLS is dropped: it was sent in the clear.
func (g *commandGuard) takeOverForTLS(tag string) {
	g.mu.Lock()
	g.detached = true
	g.mu.Unlock()
	g.r, g.w = 0, 0
	g.startTLS(g, tag, g.Conn)
}

func (g *commandGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	if g.detached {
		g.mu.Unlock()
		return len(p), nil
	}
	out := p
	if g.greeting {
		lf := bytes.IndexByte(out, '\n')
		if lf < 0 {
			g.mu.Unlock()
			return len(p), nil
		}
		g.greeting = false
		out = out[lf+1:]
	}
	g.watch(out)
	g.mu.Unlock()
	if len(out) == 0 {
		return len(p), nil
	}
	if _, err := g.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// watch follows the server's output by lines; while a literal header waits for its answer it
// notes a continuation request or the command's tagged response. Called with mu held.
func (g *commandGuard) watch(p []byte) {
	for len(p) > 0 {
		lf := bytes.IndexByte(p, '\n')
		seg := p
		if lf >= 0 {
			seg = p[:lf+1]
		}
		if g.header != nil && g.header.outcome == 0 && (g.wAtStart || len(g.wLine) > 0) {
			need := len(g.header.tag) + 1
			take := min(len(seg), need-len(g.wLine))
			g.wLine = append(g.wLine, seg[:max(take, 0)]...)
			switch {
			case len(g.wLine) > 0 && g.wLine[0] == '+':
				g.header.outcome = '+'
			case len(g.wLine) >= need:
				if string(g.wLine[:need]) == g.header.tag+" " {
					g.header.outcome = 't'
				}
			}
			if g.header.outcome != 0 || len(g.wLine) >= need || lf >= 0 {
				g.wLine = g.wLine[:0]
			}
		}
		g.wAtStart = lf >= 0
		if lf < 0 {
			return
		}
		p = p[lf+1:]
	}
}

// Close closes the connection unless it has moved on to a TLS session.
func (g *commandGuard) Close() error {
	g.mu.Lock()
	detached := g.detached
	g.mu.Unlock()
	if detached {
		return nil
	}
	return g.Conn.Close()
}

// guardOf finds the commandGuard of a library connection.
func guardOf(c net.Conn) *commandGuard {
	g, _ := c.(*commandGuard)
	return g
}
