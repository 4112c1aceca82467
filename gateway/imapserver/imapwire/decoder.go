// Package imapwire is the IMAP wire protocol as Sealgate's server speaks it: a bounded reader
// of client commands (RFC 9051 §2.2 and §4), a buffered response writer, and modified UTF-7
// mailbox names (RFC 3501 §5.1.3). It knows nothing of mailboxes or sessions.
//
// Reading: a Decoder reads one command at a time from the client, token by token, so the
// caller streams a large APPEND literal to where it belongs instead of buffering it. Every
// command is bounded: the text outside literals by Options.MaxLine, each literal by the
// limit the caller passes when it accepts the literal (APPENDLIMIT for APPEND, a small one
// elsewhere). Literals are synchronizing ({n}: the Decoder asks for them with a command
// continuation request only once the caller accepts them), non-synchronizing ({n+},
// RFC 7888 LITERAL+ and LITERAL-) or literal8 (~{n}, RFC 3516 BINARY APPEND).
//
// Failure: a syntax error, an over-long line or a refused literal is a *CommandError; the
// caller answers it (BAD, or NO [TOOBIG]) and calls Discard, which drops the rest of the
// command. The bytes of a refused literal are never parsed as commands: a non-synchronizing
// literal is read and dropped (up to Options.MaxSkip; a larger one ends the session with
// ErrLiteralTooLarge), and a synchronizing one is never asked for, so the client does not
// send it. Any other error (the connection failed, ErrLiteralTooLarge) is final: the
// session ends.
package imapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrLiteralTooLarge ends a session whose refused non-synchronizing literal is larger than
// Options.MaxSkip: reading it to find the end of the command would cost more than the
// session is worth.
var ErrLiteralTooLarge = errors.New("imapwire: refused literal too large to skip")

// CommandError is a command the server cannot take: a syntax error, a line longer than
// Options.MaxLine or a literal larger than the caller accepts. The session goes on after
// Discard.
type CommandError struct {
	Msg string
	// TooBig marks a literal over the caller's limit (answered NO [TOOBIG] in APPEND).
	TooBig bool
}

func (e *CommandError) Error() string { return e.Msg }

func syntaxErr(format string, args ...any) error {
	return &CommandError{Msg: fmt.Sprintf(format, args...)}
}

// IsCommandError reports whether err is one the session survives after Discard.
func IsCommandError(err error) bool {
	var ce *CommandError
	return errors.As(err, &ce)
}

// Options bound a Decoder. Zero values take the defaults in brackets.
type Options struct {
	// MaxLine bounds the bytes of one command outside its literals [64 KiB].
	MaxLine int
	// MaxSkip is the largest refused non-synchronizing literal read and dropped [1 MiB].
	MaxSkip int64
	// Continue writes a command continuation request ("+ …") and flushes it; the Decoder
	// calls it when the caller accepts a synchronizing literal. Nil: such literals are
	// refused.
	Continue func() error
	// Now is the clock WITHIN's OLDER and YOUNGER (RFC 5032) count back from [time.Now].
	Now func() time.Time
}

const (
	defaultMaxLine = 64 << 10
	defaultMaxSkip = 1 << 20
	// maxNumberDigits bounds a literal size or number: larger than any limit a server sets.
	maxNumberDigits = 20
)

// Literal is a literal header the client sent.
type Literal struct {
	Size    int64
	NonSync bool // {n+}: the bytes follow at once
	Binary  bool // ~{n}: literal8, may hold NUL
}

type pendingLiteral struct {
	Literal
	lineDone bool // the line end after the header is read
}

// Decoder reads commands from a client. It is used by one goroutine.
type Decoder struct {
	br   *bufio.Reader
	opts Options
	line int   // bytes of the current command outside literals
	lit  int64 // bytes of an accepted literal the caller has not read yet
	// pending is a literal header read and not accepted: Discard drops its bytes if they
	// follow unasked.
	pending *pendingLiteral
	ended   bool  // the command's final line end is read
	err     error // final
}

// NewDecoder reads commands from r.
func NewDecoder(r io.Reader, opts Options) *Decoder {
	if opts.MaxLine <= 0 {
		opts.MaxLine = defaultMaxLine
	}
	if opts.MaxSkip <= 0 {
		opts.MaxSkip = defaultMaxSkip
	}
	return &Decoder{br: bufio.NewReaderSize(r, 4<<10), opts: opts}
}

// Reset makes the Decoder read from r from now on (after STARTTLS or COMPRESS), dropping
// anything buffered from the old reader: a client must not pipeline past those commands.
func (d *Decoder) Reset(r io.Reader) {
	d.br.Reset(r)
	d.Begin()
}

// Buffered reports how many bytes were read past the current command; a server refuses
// STARTTLS or COMPRESS with bytes pipelined behind it.
func (d *Decoder) Buffered() int { return d.br.Buffered() }

// Begin starts a new command: the line bound counts from here.
func (d *Decoder) Begin() {
	d.line, d.lit, d.pending, d.ended = 0, 0, nil, false
}

// ReadLine reads a line of client text that is not a command (an AUTHENTICATE response,
// IDLE's DONE), without its line end, bounded by MaxLine.
func (d *Decoder) ReadLine() (string, error) {
	d.Begin()
	var sb strings.Builder
	for {
		c, err := d.next()
		if err != nil {
			if IsCommandError(err) {
				if derr := d.dropLine(); derr != nil {
					return "", derr
				}
			}
			return "", err
		}
		if c == '\n' {
			return strings.TrimSuffix(sb.String(), "\r"), nil
		}
		sb.WriteByte(c)
	}
}

func (d *Decoder) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	d.err = err
	return err
}

// peek returns the next byte of command text without consuming it.
func (d *Decoder) peek() (byte, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.lit > 0 {
		return 0, errors.New("imapwire: literal not read")
	}
	b, err := d.br.Peek(1)
	if err != nil {
		return 0, d.fail(err)
	}
	return b[0], nil
}

// atLiteral reports whether a literal header ("{" or "~{") is next.
func (d *Decoder) atLiteral() (bool, error) {
	c, err := d.peek()
	if err != nil || c == '{' {
		return c == '{', err
	}
	if c != '~' {
		return false, nil
	}
	b, err := d.br.Peek(2)
	if err != nil && len(b) < 2 {
		return false, d.fail(err)
	}
	return b[1] == '{', nil
}

// next consumes one byte of command text, counting it against MaxLine.
func (d *Decoder) next() (byte, error) {
	c, err := d.peek()
	if err != nil {
		return 0, err
	}
	if d.line >= d.opts.MaxLine {
		return 0, &CommandError{Msg: "line too long"}
	}
	d.br.ReadByte() //nolint:errcheck // peeked
	d.line++
	return c, nil
}

// Peek returns the next byte of command text without consuming it.
func (d *Decoder) Peek() (byte, error) { return d.peek() }

// Expect consumes the byte c or fails with a syntax error.
func (d *Decoder) Expect(c byte) error {
	got, err := d.peek()
	if err != nil {
		return err
	}
	if got != c {
		return syntaxErr("expected %q, got %q", c, got)
	}
	_, err = d.next()
	return err
}

// Accept consumes the byte c if it is next.
func (d *Decoder) Accept(c byte) (bool, error) {
	got, err := d.peek()
	if err != nil || got != c {
		return false, err
	}
	_, err = d.next()
	return true, err
}

// SP consumes one space.
func (d *Decoder) SP() error { return d.Expect(' ') }

// CRLF ends the command. A bare LF is taken too: some clients send it.
func (d *Decoder) CRLF() error {
	if err := d.eol(); err != nil {
		return err
	}
	d.ended = true
	return nil
}

func (d *Decoder) eol() error {
	if ok, err := d.Accept('\r'); err != nil {
		return err
	} else if ok {
		return d.Expect('\n')
	}
	if err := d.Expect('\n'); err != nil {
		return syntaxErr("expected end of command")
	}
	return nil
}

// AtEnd reports whether the command ends here (CR or LF is next).
func (d *Decoder) AtEnd() (bool, error) {
	c, err := d.peek()
	return c == '\r' || c == '\n', err
}

// IsAtomChar reports whether c may appear in an atom (RFC 9051 ATOM-CHAR).
func IsAtomChar(c byte) bool {
	if c <= 0x1f || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// IsAStringChar reports whether c may appear in an astring's atom form (ASTRING-CHAR).
func IsAStringChar(c byte) bool { return IsAtomChar(c) || c == ']' }

// readWhile reads at least one byte for which ok is true.
func (d *Decoder) readWhile(what string, ok func(byte) bool) (string, error) {
	var sb strings.Builder
	for {
		c, err := d.peek()
		if err != nil {
			return "", err
		}
		if !ok(c) {
			break
		}
		if _, err := d.next(); err != nil {
			return "", err
		}
		sb.WriteByte(c)
	}
	if sb.Len() == 0 {
		c, _ := d.peek()
		return "", syntaxErr("expected %s, got %q", what, c)
	}
	return sb.String(), nil
}

// ReadTag reads a command tag: ASTRING-CHARs except "+".
func (d *Decoder) ReadTag() (string, error) {
	return d.readWhile("tag", func(c byte) bool { return IsAStringChar(c) && c != '+' })
}

// ReadAtom reads an atom.
func (d *Decoder) ReadAtom() (string, error) { return d.readWhile("atom", IsAtomChar) }

// ReadChars reads a run of bytes accepted by ok (a sequence set, a LIST pattern).
func (d *Decoder) ReadChars(what string, ok func(byte) bool) (string, error) {
	return d.readWhile(what, ok)
}

// ReadNumber reads a number (RFC 9051 number: up to 2^32-1).
func (d *Decoder) ReadNumber() (uint32, error) {
	n, err := d.ReadNumber64()
	if err != nil {
		return 0, err
	}
	if n > 1<<32-1 {
		return 0, syntaxErr("number out of range")
	}
	return uint32(n), nil
}

// ReadNumber64 reads a number64 (RFC 9051: up to 2^63-1).
func (d *Decoder) ReadNumber64() (uint64, error) {
	s, err := d.readWhile("number", func(c byte) bool { return c >= '0' && c <= '9' })
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseUint(s, 10, 63)
	if perr != nil {
		return 0, syntaxErr("number out of range")
	}
	return n, nil
}

// ReadQuoted reads a quoted string. Its bytes count against MaxLine.
func (d *Decoder) ReadQuoted() (string, error) {
	if err := d.Expect('"'); err != nil {
		return "", err
	}
	var sb strings.Builder
	for {
		c, err := d.next()
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return sb.String(), nil
		case '\\':
			if c, err = d.next(); err != nil {
				return "", err
			}
			if c != '"' && c != '\\' {
				return "", syntaxErr("bad escape in quoted string")
			}
		case '\r', '\n', 0:
			return "", syntaxErr("bad character in quoted string")
		}
		sb.WriteByte(c)
	}
}

// ReadLiteralHeader reads "{n}", "{n+}", "~{n}" or "~{n+}" and the line end after it. The
// literal's bytes are not read: the caller accepts it (AcceptLiteral) or refuses it.
func (d *Decoder) ReadLiteralHeader() (Literal, error) {
	var l Literal
	if ok, err := d.Accept('~'); err != nil {
		return l, err
	} else if ok {
		l.Binary = true
	}
	if err := d.Expect('{'); err != nil {
		return l, err
	}
	digits, err := d.readWhile("literal size", func(c byte) bool { return c >= '0' && c <= '9' })
	if err != nil {
		return l, err
	}
	if len(digits) > maxNumberDigits {
		return l, syntaxErr("literal size out of range")
	}
	size, perr := strconv.ParseInt(digits, 10, 64)
	if perr != nil {
		return l, syntaxErr("literal size out of range")
	}
	l.Size = size
	if l.NonSync, err = d.Accept('+'); err != nil {
		return l, err
	}
	if err := d.Expect('}'); err != nil {
		return l, err
	}
	// The header is known before its line end is: a Discard after a failure here still
	// has to drop the bytes of a non-synchronizing literal.
	d.pending = &pendingLiteral{Literal: l}
	if err := d.eol(); err != nil {
		return l, err
	}
	d.pending.lineDone = true
	return l, nil
}

// AcceptLiteral takes the literal whose header was just read if it is at most max bytes,
// asks a synchronizing one from the client, and returns a reader of exactly its bytes. The
// caller reads it to the end before reading on. Over max it returns a *CommandError with
// TooBig set; the caller answers and calls Discard.
func (d *Decoder) AcceptLiteral(l Literal, max int64) (io.Reader, error) {
	if d.err != nil {
		return nil, d.err
	}
	if l.Size > max {
		return nil, &CommandError{Msg: fmt.Sprintf("literal of %d bytes over the limit of %d", l.Size, max), TooBig: true}
	}
	if !l.NonSync {
		if d.opts.Continue == nil {
			return nil, syntaxErr("synchronizing literal not accepted")
		}
		if err := d.opts.Continue(); err != nil {
			return nil, d.fail(err)
		}
	}
	d.pending = nil
	d.lit = l.Size
	return &literalReader{d: d}, nil
}

// ReadLiteral reads a whole literal of at most max bytes into memory.
func (d *Decoder) ReadLiteral(l Literal, max int64) ([]byte, error) {
	r, err := d.AcceptLiteral(l, max)
	if err != nil {
		return nil, err
	}
	b := make([]byte, l.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, d.fail(err)
	}
	if !l.Binary && strings.IndexByte(string(b), 0) >= 0 {
		return nil, syntaxErr("NUL in literal")
	}
	return b, nil
}

type literalReader struct{ d *Decoder }

func (r *literalReader) Read(p []byte) (int, error) {
	d := r.d
	if d.lit == 0 {
		return 0, io.EOF
	}
	if d.err != nil {
		return 0, d.err
	}
	if int64(len(p)) > d.lit {
		p = p[:d.lit]
	}
	n, err := d.br.Read(p)
	d.lit -= int64(n)
	if err != nil && d.lit > 0 {
		return n, d.fail(err)
	}
	return n, nil
}

// ReadString reads a string (quoted or a literal of at most maxLiteral bytes).
func (d *Decoder) ReadString(maxLiteral int64) (string, error) {
	c, err := d.peek()
	if err != nil {
		return "", err
	}
	if c == '"' {
		return d.ReadQuoted()
	}
	if lit, err := d.atLiteral(); err != nil {
		return "", err
	} else if lit {
		l, err := d.ReadLiteralHeader()
		if err != nil {
			return "", err
		}
		b, err := d.ReadLiteral(l, maxLiteral)
		return string(b), err
	}
	return "", syntaxErr("expected string, got %q", c)
}

// ReadAString reads an astring: an atom (with "]") or a string.
func (d *Decoder) ReadAString(maxLiteral int64) (string, error) {
	c, err := d.peek()
	if err != nil {
		return "", err
	}
	lit, err := d.atLiteral()
	if err != nil {
		return "", err
	}
	if c == '"' || lit {
		return d.ReadString(maxLiteral)
	}
	return d.readWhile("astring", IsAStringChar)
}

// ReadNString reads an nstring: NIL (ok false) or a string.
func (d *Decoder) ReadNString(maxLiteral int64) (s string, ok bool, err error) {
	c, err := d.peek()
	if err != nil {
		return "", false, err
	}
	if c == 'N' || c == 'n' {
		a, err := d.ReadAtom()
		if err != nil {
			return "", false, err
		}
		if !strings.EqualFold(a, "NIL") {
			return "", false, syntaxErr("expected NIL or string")
		}
		return "", false, nil
	}
	s, err = d.ReadString(maxLiteral)
	return s, err == nil, err
}

// readOptions reads a parenthesized list of options, atoms in any case: one named in flags
// sets its bool; one named in args is followed by a space and its argument, which the
// function read. An unknown option is a syntax error that names what was read ("STATUS
// item").
func (d *Decoder) readOptions(what string, flags map[string]*bool, args map[string]func() error) error {
	return d.ReadList(func() error {
		opt, err := d.ReadAtom()
		if err != nil {
			return err
		}
		up := strings.ToUpper(opt)
		if p, ok := flags[up]; ok {
			*p = true
			return nil
		}
		read, ok := args[up]
		if !ok {
			return syntaxErr("unknown %s %s", what, opt)
		}
		if err := d.SP(); err != nil {
			return err
		}
		return read()
	})
}

// ReadList reads a parenthesized list, calling item for each element; elements are
// separated by single spaces. An empty list "()" calls item never.
func (d *Decoder) ReadList(item func() error) error {
	if err := d.Expect('('); err != nil {
		return err
	}
	if ok, err := d.Accept(')'); ok || err != nil {
		return err
	}
	for {
		if err := item(); err != nil {
			return err
		}
		c, err := d.next()
		if err != nil {
			return err
		}
		switch c {
		case ')':
			return nil
		case ' ':
		default:
			return syntaxErr("expected space or ) in list, got %q", c)
		}
	}
}

// Discard drops the rest of the current command after a *CommandError, so that reading
// goes on at the next command. It drops the bytes of any non-synchronizing literal on the
// way (they follow whether or not the server wants them); a synchronizing literal that was
// not asked for ends the command, for the client does not send it. The result is nil or a
// final error.
func (d *Decoder) Discard() error {
	if d.err != nil {
		return d.err
	}
	if d.ended {
		return nil
	}
	if d.lit > 0 { // an accepted literal the caller stopped reading
		if err := d.skip(d.lit); err != nil {
			return err
		}
		d.lit = 0
	}
	if p := d.pending; p != nil && p.lineDone {
		// The header and its line end are read: what follows is the literal, if the
		// client sends it unasked, and then the rest of the command.
		d.pending = nil
		if !p.NonSync {
			return nil
		}
		if p.Size > d.opts.MaxSkip {
			return d.fail(ErrLiteralTooLarge)
		}
		if err := d.skip(p.Size); err != nil {
			return err
		}
	}
	// Otherwise the rest of the line is unread, and dropLine follows a literal header
	// at its end.
	d.pending = nil
	return d.dropLine()
}

// dropLine reads up to the end of the current line of command text, without bounds on
// its length, and when that line ends in a literal header, follows it: a
// non-synchronizing literal is skipped and the command goes on after it; a synchronizing
// one ends the command.
func (d *Decoder) dropLine() error {
	var tail []byte
	for {
		c, err := d.br.ReadByte()
		if err != nil {
			return d.fail(err)
		}
		if c != '\n' {
			if len(tail) == 32 {
				copy(tail, tail[1:])
				tail = tail[:31]
			}
			tail = append(tail, c)
			continue
		}
		l, ok := trailingLiteral(tail)
		if !ok || !l.NonSync {
			return nil
		}
		if l.Size > d.opts.MaxSkip {
			return d.fail(ErrLiteralTooLarge)
		}
		if err := d.skip(l.Size); err != nil {
			return err
		}
		tail = tail[:0]
	}
}

// trailingLiteral reports the literal header a line (without its LF) ends in.
func trailingLiteral(line []byte) (Literal, bool) {
	s := strings.TrimSuffix(string(line), "\r")
	if !strings.HasSuffix(s, "}") {
		return Literal{}, false
	}
	open := strings.LastIndexByte(s, '{')
	if open < 0 {
		return Literal{}, false
	}
	body := s[open+1 : len(s)-1]
	var l Literal
	if strings.HasSuffix(body, "+") {
		l.NonSync = true
		body = body[:len(body)-1]
	}
	if body == "" || len(body) > maxNumberDigits || strings.Trim(body, "0123456789") != "" {
		return Literal{}, false
	}
	n, err := strconv.ParseInt(body, 10, 64)
	if err != nil {
		// More digits than any size: as large as can be, so that it is not skipped.
		n = 1<<63 - 1
	}
	l.Size = n
	return l, true
}

func (d *Decoder) skip(n int64) error {
	if _, err := d.br.Discard(int(min(n, int64(^uint(0)>>1)))); err != nil {
		return d.fail(err)
	}
	return nil
}

// Err reports the error that ended reading, if any: after it the session is over.
func (d *Decoder) Err() error { return d.err }
